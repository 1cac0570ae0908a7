// Long polling: a receive with waitMs is held by the queue until a message is visible or the wait
// is over. Real broker process; several client connections.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { connect, ErrorCodes, type DeliveredMessage, type FerryClient } from '../src/client/index.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString();

const broker = await startBroker(t);
const clients: FerryClient[] = [];
async function newClient(): Promise<FerryClient> {
  const c = await connect(broker.url, { reconnect: false });
  clients.push(c);
  return c;
}
t.teardown(() => Promise.all(clients.map((c) => c.close())));
const client = await newClient();

/** A promise with a flag saying whether it settled yet. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  const promise = p.finally(() => (settled = true));
  promise.catch(() => {});
  return { promise, settled: () => settled };
}

/**
 * Resolves once every request `c` sent on `queue` before it has reached the queue's shard: requests
 * of one connection to one shard are handled in order, so when this one is answered, an earlier
 * long poll is waiting there.
 */
async function barrier(c: FerryClient, queue: string): Promise<void> {
  await c.getQueueAttributes(queue);
}

/** Absence can only be shown by waiting: several shard turns, not a speed assertion. */
const quiet = (): Promise<void> => new Promise((r) => setTimeout(r, 200));

/** Open WebSocket connections, as the broker's /metrics reports them. */
async function connections(): Promise<number> {
  const text = await (await fetch(`${broker.httpUrl}/metrics`)).text();
  return Number(/^ferry_connections (\d+)$/m.exec(text)?.[1]);
}

t.test('a waiting receive is answered when a send arrives', async (t) => {
  await client.createQueue('lp-answer');
  const q = client.queue('lp-answer');
  const waiting = track(q.receive({ waitMs: 10_000 }));
  await barrier(client, 'lp-answer');
  t.notOk(waiting.settled(), 'the receive waits on an empty queue');
  const sent = await (await newClient()).queue('lp-answer').send('wake up');
  const got = await waiting.promise;
  t.equal(got.length, 1);
  t.equal(got[0]!.messageId, sent.messageId);
  t.equal(text(got[0]!.body), 'wake up');
  t.match((await q.attributes()).stats, { visible: 0, leased: 1 }, 'the waiter holds the lease');
});

t.test('a waiting receive returns empty after its wait', async (t) => {
  await client.createQueue('lp-empty');
  const started = Date.now();
  const got = await client.queue('lp-empty').receive({ waitMs: 400 });
  t.same(got, []);
  t.ok(Date.now() - started >= 350, 'it waited (about) its waitMs before answering');
});

t.test("the queue's receiveWaitMs applies when the receive gives none", async (t) => {
  await client.createQueue('lp-default', { receiveWaitMs: 10_000 });
  const waiting = track(client.queue('lp-default').receive());
  await barrier(client, 'lp-default');
  t.notOk(waiting.settled(), 'waits by default');
  await client.queue('lp-default').send('x');
  t.equal((await waiting.promise).length, 1);
  t.same(await client.queue('lp-default').receive({ waitMs: 0 }), [], 'waitMs 0 overrides the default: answers at once');
});

t.test('a delayed message wakes a waiter when its delay ends', async (t) => {
  await client.createQueue('lp-delay');
  const q = client.queue('lp-delay');
  const waiting = track(q.receive({ waitMs: 10_000 }));
  await q.send('soon', { delayMs: 1500 });
  await barrier(client, 'lp-delay');
  t.notOk(waiting.settled(), 'not woken by a delayed message');
  const got = await waiting.promise;
  t.same(got.map((m) => text(m.body)), ['soon']);
});

t.test('several waiters: each message goes to one of them, none twice', async (t) => {
  await client.createQueue('lp-many');
  const waiters: Array<ReturnType<typeof track<DeliveredMessage[]>>> = [];
  for (let i = 0; i < 5; i++) {
    const c = await newClient();
    waiters.push(track(c.queue('lp-many').receive({ waitMs: 10_000, max: 1 })));
    await barrier(c, 'lp-many');
  }
  t.equal(waiters.filter((w) => w.settled()).length, 0, 'all five wait');

  await client.queue('lp-many').send('one');
  // Exactly one waiter is answered by one message; the others keep waiting.
  const deadline = Date.now() + 5000;
  while (waiters.filter((w) => w.settled()).length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await quiet();
  t.equal(waiters.filter((w) => w.settled()).length, 1, 'one message wakes one waiter');

  await client.queue('lp-many').sendBatch(['two', 'three', 'four', 'five']);
  const all = await Promise.all(waiters.map((w) => w.promise));
  t.same(all.map((m) => m.length), [1, 1, 1, 1, 1], 'every waiter got exactly one');
  t.same(all.map((m) => text(m[0]!.body)).sort(), ['five', 'four', 'one', 'three', 'two'], 'no message twice');
});

t.test('a waiter with max N gets up to N of what arrives at once', async (t) => {
  await client.createQueue('lp-max');
  const waiting = track(client.queue('lp-max').receive({ waitMs: 10_000, max: 10 }));
  await barrier(client, 'lp-max');
  await client.queue('lp-max').sendBatch(['a', 'b', 'c']);
  t.same((await waiting.promise).map((m) => text(m.body)), ['a', 'b', 'c'], 'one batch, one answer with all of it');
});

t.test('a waiter on a queue that is deleted fails with QueueDoesNotExist', async (t) => {
  await client.createQueue('lp-deleted');
  const other = await newClient();
  const waiting = track(other.queue('lp-deleted').receive({ waitMs: 15_000 }));
  await barrier(other, 'lp-deleted');
  t.notOk(waiting.settled());
  const started = Date.now();
  await client.deleteQueue('lp-deleted');
  await t.rejects(waiting.promise, { code: ErrorCodes.QueueDoesNotExist, field: 'queue' });
  t.ok(Date.now() - started < 10_000, 'answered when the queue went, not at the end of its wait');
  t.same(await other.queue('lp-answer').receive({ max: 10 }), [], 'the waiting connection still serves requests');
});

t.test('a waiter whose connection closes does not swallow a message', async (t) => {
  await client.createQueue('lp-gone');
  const doomed = await connect(broker.url, { reconnect: false });
  const waiting = track(doomed.queue('lp-gone').receive({ waitMs: 15_000 }));
  await barrier(doomed, 'lp-gone');
  const open = await connections();
  await doomed.close();
  await t.rejects(waiting.promise, { code: ErrorCodes.ConnectionClosed }, 'the client settles its pending receive');
  // Once the broker counts the connection closed, it has told the shards (before any later send).
  for (let i = 0; i < 200 && (await connections()) !== open - 1; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(await connections(), open - 1, 'the broker saw the close');
  await client.queue('lp-gone').send('kept');
  const got = await client.queue('lp-gone').receive({ waitMs: 5000 });
  t.same(got.map((m) => text(m.body)), ['kept'], 'the message went to a live receiver');
  t.equal(got[0]!.receiveCount, 1, 'never delivered to the closed connection');
});
