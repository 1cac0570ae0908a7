// Big bodies end to end: 1 MiB messages (the ceiling) through receive, several receives answered
// in one turn, and a push subscription with credit for all of them. No answer may outgrow what the
// client reads in one WebSocket message (ws: 100 MiB by default; before the byte budget a receive of
// max 1000 over 105 such messages was one 110 MB frame and the client lost its connection), and a
// turn's output past the server's send buffer (64 MiB) is paced by the socket, not cut off.
import t, { type Test } from 'tap';
import { startBroker } from './helpers/broker.js';
import { waitFor } from './helpers/raw-socket.js';
import { connect, type DeliveredMessage, type FerryClient } from '../src/client/index.js';
import { Limits } from '../src/protocol/limits.js';

const MiB = 1024 * 1024;
const COUNT = 110; // 110 MiB: past a client's 100 MiB message limit and the server's 64 MiB send buffer

const broker = await startBroker(t, { args: ['--max-message-bytes', String(MiB)] });
const client: FerryClient = await connect(broker.url, { reconnect: false });
t.teardown(() => client.close());

const QUEUE = 'big';
await client.createQueue(QUEUE, { maxMessageBytes: MiB });
for (let i = 0; i < COUNT; i += 5) {
  await client.queue(QUEUE).sendBatch(Array.from({ length: 5 }, (_, k) => Buffer.alloc(MiB, i + k)));
}
const q = client.queue(QUEUE);
const expected = Array.from({ length: COUNT }, (_, i) => Buffer.alloc(MiB, i));

/** Every message once, every body whole; then gives them back (nack) for the next test. */
async function checkAndGiveBack(t: Test, got: DeliveredMessage[]): Promise<void> {
  t.equal(got.length, COUNT, 'every message');
  t.same(got.map((m) => m.body[0]!).sort((a, b) => a - b), expected.map((_, i) => i), 'each once');
  t.ok(got.every((m) => Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength).equals(expected[m.body[0]!]!)), 'bodies whole');
  await Promise.all(got.map((m) => q.nack(m.receipt)));
}

t.test('receive max 1000 of 1 MiB bodies: answers within the byte budget, connection kept', async (t) => {
  const got: DeliveredMessage[] = [];
  for (let i = 0; i < 100 && got.length < COUNT; i++) {
    const batch = await q.receive({ max: 1000, visibilityMs: 600_000 });
    t.ok(batch.length > 0 && batch.length * MiB <= Limits.maxDeliveryBytes, `one answer carries at most the budget (${batch.length})`);
    got.push(...batch);
  }
  t.equal(client.state, 'open', 'the connection stayed up');
  await checkAndGiveBack(t, got);
});

t.test('many big receives answered in the same turn arrive in several WebSocket messages', async (t) => {
  const batches = await Promise.all(Array.from({ length: 20 }, () => q.receive({ max: 1000, visibilityMs: 600_000 })));
  t.equal(client.state, 'open');
  await checkAndGiveBack(t, batches.flat());
});

t.test('a subscription with credit for all of them gets them all, paced by the socket', async (t) => {
  const got: DeliveredMessage[] = [];
  const sub = await q.subscribe({ credit: 1000, visibilityMs: 600_000 }, (messages) => got.push(...messages));
  await waitFor('all pushed', () => (got.length >= COUNT ? true : undefined), 60_000);
  t.equal(client.state, 'open', 'not disconnected as too slow');
  await sub.unsubscribe();
  await checkAndGiveBack(t, got);
});
