// kill -9 over acks that moved the gone mark (queue-actor.ts #settleRemovals): a consumer acks in
// sequence order (no delete per message, one mark), some acks land out of order above messages
// still leased (deletes of their own), and one batch of acks is in flight when the broker is
// killed. After each restart: no message whose ack was answered comes back, every message never
// acked is there exactly once (the leased ones with their delivery counted), and an ack whose
// answer was lost either applied or not. Two rounds over the same data directory: the second
// round's mark starts where the first left it (and recovery has cleared below it).
import t from 'tap';
import { connect, type DeliveredMessage, type FerryClient } from '../src/client/index.js';
import { startBroker } from './helpers/broker.js';
import { outcome } from './helpers/bounded.js';
import { countOf, drainQueue } from './helpers/drain.js';

const QUEUE = 'acks';
const LEASE_MS = 10 * 60 * 1000;

async function receiveN(client: FerryClient, n: number): Promise<DeliveredMessage[]> {
  const got: DeliveredMessage[] = [];
  for (let i = 0; i < 100 && got.length < n; i++) {
    const r = await client.request('receive', { queue: QUEUE, max: Math.min(1000, n - got.length), visibilityMs: LEASE_MS, waitMs: 0 });
    if (r.messages.length === 0) break;
    got.push(...r.messages);
  }
  return got;
}

async function ack(client: FerryClient, msgs: readonly DeliveredMessage[]): Promise<void> {
  for (let i = 0; i < msgs.length; i += 500) {
    const results = await client.queue(QUEUE).deleteBatch(msgs.slice(i, i + 500).map((m) => m.receipt));
    const failed = results.filter((r) => !('ok' in r) || !r.ok.deleted);
    if (failed.length > 0) throw new Error(`${failed.length} acks failed: ${JSON.stringify(failed[0])}`);
  }
}

const body = (m: DeliveredMessage): string => Buffer.from(m.body).toString();

t.test('SIGKILL after acks in sequence order: acked messages never come back, unacked ones all do', async (t) => {
  const broker = await startBroker(t);
  const acked = new Set<string>();
  const uncertain = new Set<string>();
  const sent: string[] = [];
  for (let round = 1; round <= 2; round++) {
    const client = await connect(broker.url, { reconnect: false, requestTimeoutMs: 30_000 });
    if (round === 1) await client.createQueue(QUEUE);
    for (let b = 0; b < 30; b++) {
      const bodies = Array.from({ length: 100 }, (_, i) => `r${round}-${b * 100 + i}`);
      await client.queue(QUEUE).sendBatch(bodies.map((x) => ({ body: x })));
      sent.push(...bodies);
    }
    const got = await receiveN(client, 3000);
    t.ok(got.length >= 2900, `round ${round}: received ${got.length}`);
    // In order: the first 2000 (the mark passes them, with a range clear on the way).
    await ack(client, got.slice(0, 2000));
    for (const m of got.slice(0, 2000)) acked.add(body(m));
    // Out of order: every third of the last 300, above the leased ones between.
    const scattered = got.slice(-300).filter((_, i) => i % 3 === 0);
    await ack(client, scattered);
    for (const m of scattered) acked.add(body(m));
    // One batch in flight at the kill: it may or may not apply.
    const inFlight = got.slice(2000, 2400);
    for (const m of inFlight) uncertain.add(body(m));
    const pending = outcome(client.queue(QUEUE).deleteBatch(inFlight.map((m) => m.receipt)));
    await broker.kill();
    await pending;
    await client.close();
    await broker.start();

    const reader = await connect(broker.url, { reconnect: false, requestTimeoutMs: 30_000 });
    const leasedBefore = new Set(got.map(body));
    const after = await receiveN(reader, 100_000);
    const seen = after.map(body);
    const dup = [...countOf(seen)].filter(([, n]) => n > 1);
    t.same(dup, [], `round ${round}: no message twice`);
    t.same(seen.filter((b) => acked.has(b)), [], `round ${round}: no acknowledged ack is undone`);
    const expected = sent.filter((b) => !acked.has(b) && !uncertain.has(b));
    const present = new Set(seen);
    t.same(expected.filter((b) => !present.has(b)), [], `round ${round}: every message never acked is back`);
    t.same(after.filter((m) => leasedBefore.has(body(m)) && m.receiveCount < 2).map(body), [], `round ${round}: leased ones come back with their delivery counted`);
    // Put them back for the next round: nack what was received now (visible again at once).
    for (const m of after) await reader.queue(QUEUE).nack(m.receipt);
    for (const b of uncertain) if (!present.has(b)) acked.add(b); // it applied: gone for good
    uncertain.clear();
    await reader.close();
  }
  const client = await connect(broker.url, { reconnect: false, requestTimeoutMs: 30_000 });
  t.teardown(() => client.close());
  const rest = (await drainQueue(client, QUEUE)).map((d) => d.body).sort();
  t.same(rest, sent.filter((b) => !acked.has(b)).sort(), 'at the end the queue holds exactly the unacknowledged messages');
});
