// The harness's windowed publisher (loadtest/load.ts `publish`): it counts what was confirmed, spreads
// batches as the plan says, stops at its deadline, and fails (instead of hanging) when a batch is
// never confirmed. And the progress line formats a lazy detail only when it draws it.
import t from 'tap';
import { publish } from '../loadtest/load.js';
import { Progress } from '../loadtest/progress.js';
import type { Producer } from '../loadtest/adapters/adapter.js';

/** A producer that confirms at once and records where each batch went. */
function recorder(sent: Array<{ queue: string; n: number }>): Producer {
  return {
    send: async (queue, bodies) => void sent.push({ queue, n: bodies.length }),
    close: async () => undefined,
  };
}

const body = new Uint8Array(8);

t.test('counts every confirmed message and sends each batch where queueFor says', async (t) => {
  const sent: Array<{ queue: string; n: number }> = [];
  const producers = [recorder(sent), recorder(sent)];
  const progress: number[] = [];
  const n = await publish({
    producers, queueFor: (p, k) => `q${(p + k * 2) % 5}`, perProducer: 25, batch: 10, window: 3,
    deadline: performance.now() + 10_000, body: () => body, onProgress: (c) => progress.push(c),
  });
  t.equal(n, 50, 'both producers sent their 25');
  t.same(sent.map((s) => s.n).sort(), [10, 10, 10, 10, 5, 5].sort(), 'batches of 10, the rest in a short one');
  t.same(new Set(sent.map((s) => s.queue)), new Set(['q0', 'q1', 'q2', 'q3', 'q4']), 'spread over the queues');
  t.equal(progress.at(-1), 50, 'the last progress report is the total');
});

t.test('a batch that is never confirmed fails the publishing with the queue named', async (t) => {
  const stuck: Producer = { send: () => new Promise<void>(() => undefined), close: async () => undefined };
  const sent: Array<{ queue: string; n: number }> = [];
  const started = performance.now();
  await t.rejects(
    publish({
      producers: [recorder(sent), stuck], queueFor: (p) => `lane${p}`, perProducer: 1_000_000, batch: 10, window: 2,
      deadline: performance.now() + 30_000, body: () => body, confirmMs: 200,
    }),
    /confirm of 10 messages to lane1: no answer within 200 ms/,
  );
  t.ok(performance.now() - started < 20_000, 'failed long before the deadline');
});

t.test('stops at its deadline with what was confirmed', async (t) => {
  const sent: Array<{ queue: string; n: number }> = [];
  const slow: Producer = { send: (queue, bodies) => new Promise<void>((resolve) => setTimeout(() => { sent.push({ queue, n: bodies.length }); resolve(); }, 20)), close: async () => undefined };
  const n = await publish({
    producers: [slow], queueFor: () => 'q', perProducer: 1_000_000, batch: 10, window: 1,
    deadline: performance.now() + 200, body: () => body,
  });
  t.equal(n, sent.length * 10, 'every confirmed batch counted');
  t.ok(n < 1_000_000, 'stopped by the deadline');
});

t.test('a lazy progress detail is formatted only when drawn', async (t) => {
  const progress = new Progress(1);
  let formatted = 0;
  progress.step('step');
  for (let i = 0; i < 1000; i++) progress.detail(() => `${++formatted}`);
  // Off a terminal nothing is drawn (CI logs get one line per step); on one, at most 10 draws a second.
  t.ok(formatted <= 2, `formatted ${formatted} times for 1,000 updates`);
  progress.finish();
});
