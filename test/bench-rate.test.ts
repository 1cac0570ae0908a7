// The harness's fixed-rate publisher (loadtest/load.ts `publishAtRate`): a send that falls due while
// the unconfirmed window is full is not dropped (coordinated omission) but held back, sent once a
// confirm frees the window, counted, and stamped with the time the pacing tick found it due and
// could not send it, so the latency the consumer records includes its wait. RESULTS.md says how
// many each broker held back.
import t from 'tap';
import { stampNow } from '../loadtest/clock.js';
import { publishAtRate, stampOf } from '../loadtest/load.js';
import { heldBackLine, type BenchResults, type RunRecord } from '../loadtest/report.js';
import type { Measurement } from '../loadtest/scenarios.js';
import type { Producer } from '../loadtest/adapters/adapter.js';

interface Sent {
  stamp: number;
  at: number;
  confirm: () => void;
}

/** A producer that confirms only when told to, and records each body's stamp and when it was sent. */
function gated(): { producer: Producer; sent: Sent[] } {
  const sent: Sent[] = [];
  const producer: Producer = {
    send: (_queue, bodies) => new Promise<void>((resolve) => sent.push({ stamp: stampOf(bodies[0]!), at: stampNow(), confirm: resolve })),
    close: async () => undefined,
  };
  return { producer, sent };
}

t.test('sends due while the window is full go late, stamped when they were held; none is dropped', async (t) => {
  const { producer, sent } = gated();
  const rate = 1000;
  const done = publishAtRate({ producer, queue: 'q', ratePerSec: rate, durationMs: 100, bodyBytes: 16, maxUnconfirmed: 5 });
  // The window fills with the first 5; nothing is confirmed for a while, so later sends fall due meanwhile.
  const until = performance.now() + 5_000;
  while (sent.length < 5 && performance.now() < until) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 60));
  t.equal(sent.length, 5, 'no send beyond the window while nothing is confirmed');
  // From now on every send is confirmed at once (bounded polling until all 100 went).
  for (let i = 0; i < 2_000 && sent.length < 100; i++) {
    for (const s of sent) s.confirm();
    await new Promise((r) => setTimeout(r, 1));
  }
  for (const s of sent) s.confirm();
  const outcome = await done;
  t.equal(outcome.sent, 100, 'every message due was sent');
  t.equal(outcome.unsent, 0);
  t.ok(outcome.heldBack >= 40, `the sends due during the stall were held back and counted (${outcome.heldBack})`);
  t.ok(outcome.heldBack < 100, 'the first ones were not');
  const late = sent.filter((s) => s.at - s.stamp > 20);
  t.ok(late.length >= 40, `held-back sends carry a stamp from before they were sent (${late.length} over 20 ms earlier)`);
  const stamps = sent.map((s) => s.stamp);
  t.ok(stamps.every((s, i) => i === 0 || s >= stamps[i - 1]!), 'stamps never go back: messages leave in due order');
  const [fifth, sixth] = [sent[4]!, sent[5]!];
  t.ok(sixth.stamp >= fifth.stamp && sixth.stamp < fifth.stamp + 20, 'the 6th, held back, is stamped when the window stopped it (beside the 5th)');
  t.ok(sixth.at - sixth.stamp > 40, 'and sent after the stall');
});

t.test('sends still held back when the publishing gives up are counted as never sent', async (t) => {
  const { producer, sent } = gated();
  const outcome = await publishAtRate({ producer, queue: 'q', ratePerSec: 1000, durationMs: 50, bodyBytes: 16, maxUnconfirmed: 3 });
  t.equal(outcome.sent, 3, 'only the window went');
  t.equal(outcome.unsent, 47, 'the other 47 are reported, not lost');
  t.equal(outcome.heldBack, 0);
  for (const s of sent) s.confirm();
});

t.test('a broker that keeps up: nothing held back, every body stamped when it is sent', async (t) => {
  const sent: number[] = [];
  const producer: Producer = { send: async (_q, bodies) => void sent.push(stampNow() - stampOf(bodies[0]!)), close: async () => undefined };
  const outcome = await publishAtRate({ producer, queue: 'q', ratePerSec: 2000, durationMs: 50, bodyBytes: 16, maxUnconfirmed: 1000 });
  t.same(outcome, { sent: 100, heldBack: 0, unsent: 0 });
  t.ok(sent.every((age) => age >= 0 && age < 20), 'stamped at the send itself, not at an earlier due time');
});

t.test('RESULTS.md names the sends each broker held back, under the latency table', async (t) => {
  const m = (heldBack: number): Measurement => ({ messages: 100, seconds: 1, msgsPerSec: 100, heldBack });
  const run = (broker: string, rep: number, heldBack: number): RunRecord => ({ scenario: 'latency', broker, rep, status: 'ok', measurement: m(heldBack) });
  const results = (runs: RunRecord[]): BenchResults => ({
    command: 'x', date: 'x', smoke: false, reps: 2, shards: 2, machine: { cpus: 2, cpuModel: 'x', kernel: 'x', node: 'x' }, versions: {},
    sizes: {} as BenchResults['sizes'], scenarios: [{ id: 'latency', title: 'latency', kind: 'latency' }], runs,
  });
  t.same(heldBackLine(results([run('ferry', 1, 0), run('redis', 1, 0)]), 'latency'), [], 'nothing said when nothing was held back');
  const line = heldBackLine(results([run('ferry', 1, 1200), run('ferry', 2, 300), run('redis', 1, 0), run('redis', 2, 0)]), 'latency').join('\n');
  t.match(line, /held back.*ferry 1,500, redis 0\./, 'every broker, summed over the repetitions');
});
