// Push subscriptions with a credit window, counted exactly on a raw WebSocket, and the SDK's
// consume() on top of them. Real broker process.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { RawSocket, waitFor } from './helpers/raw-socket.js';
import { connect, ErrorCodes, type DeliveredMessage, type FerryClient } from '../src/client/index.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString();

const broker = await startBroker(t);
const client: FerryClient = await connect(broker.url, { reconnect: false });
t.teardown(() => client.close());
const sockets: RawSocket[] = [];
async function rawSocket(): Promise<RawSocket> {
  const s = await RawSocket.open(broker.url);
  sockets.push(s);
  return s;
}
t.teardown(() => Promise.all(sockets.map((s) => s.close())));

/**
 * Gives the broker time to push more than it should, if it would. Absence can only be shown by
 * waiting; this is several shard turns, not a speed assertion.
 */
const quiet = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

async function subscribe(s: RawSocket, queue: string, credit: number, visibilityMs?: number): Promise<number> {
  const args: Record<string, unknown> = { queue, credit };
  if (visibilityMs !== undefined) args.visibilityMs = visibilityMs;
  return (await s.ok<{ sub: number }>('subscribe', args)).sub;
}

const bodies = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

t.test('the server never pushes more than the credit granted', async (t) => {
  await client.createQueue('sub-credit');
  await client.queue('sub-credit').sendBatch(bodies(20, 'm'));
  const s = await rawSocket();
  const sub = await subscribe(s, 'sub-credit', 3);
  await waitFor('3 pushed', () => (s.pushedTo(sub).length >= 3 ? true : undefined));
  await quiet();
  t.equal(s.pushedTo(sub).length, 3, 'exactly the 3 granted, with 17 more visible');
  t.same(s.pushedTo(sub).map((m) => text(m.body)), ['m0', 'm1', 'm2'], 'in order');

  t.same(await s.ok('credit', { sub, credit: 4 }), { credit: 4 }, 'credit answers the window now open');
  await waitFor('7 pushed', () => (s.pushedTo(sub).length >= 7 ? true : undefined));
  await quiet();
  t.equal(s.pushedTo(sub).length, 7, 'a top-up of 4 brings exactly 4 more');

  // Many small grants in a row add up exactly.
  for (let i = 0; i < 5; i++) s.sendValue({ id: s.id(), op: 'credit', args: { sub, credit: 1 } });
  await waitFor('12 pushed', () => (s.pushedTo(sub).length >= 12 ? true : undefined));
  await quiet();
  t.equal(s.pushedTo(sub).length, 12);
  const pushed = s.pushedTo(sub);
  t.equal(new Set(pushed.map((m) => m.messageId)).size, 12, 'no message pushed twice');
  t.match((await client.getQueueAttributes('sub-credit')).stats, { leased: 12, visible: 8 }, 'pushed messages are leased');
  for (const m of pushed) t.match(m, { receiveCount: 1, seq: Number, receipt: String });
});

t.test('credit 0 at subscribe: nothing until credit is granted; new sends are pushed as they arrive', async (t) => {
  await client.createQueue('sub-topup');
  const s = await rawSocket();
  const sub = await subscribe(s, 'sub-topup', 0);
  await client.queue('sub-topup').sendBatch(bodies(5, 'a'));
  await quiet();
  t.equal(s.pushedTo(sub).length, 0, 'no credit, no push');
  await s.ok('credit', { sub, credit: 2 });
  await waitFor('2 pushed', () => (s.pushedTo(sub).length >= 2 ? true : undefined));
  await s.ok('credit', { sub, credit: 100 });
  await waitFor('5 pushed', () => (s.pushedTo(sub).length >= 5 ? true : undefined));
  await client.queue('sub-topup').send('late');
  await waitFor('the late one pushed', () => (s.pushedTo(sub).length >= 6 ? true : undefined));
  t.same(s.pushedTo(sub).map((m) => text(m.body)), [...bodies(5, 'a'), 'late']);
  // The push's receipt works over the wire like a receive's.
  const results = await client.queue('sub-topup').deleteBatch(s.pushedTo(sub).map((m) => m.receipt));
  t.ok(results.every((r) => 'ok' in r && r.ok.deleted), 'pushed messages deleted by their receipts');
  t.match((await client.getQueueAttributes('sub-topup')).stats, { visible: 0, leased: 0 });
});

t.test('unsubscribe', async (t) => {
  await client.createQueue('sub-unsub');
  const s = await rawSocket();
  const sub = await subscribe(s, 'sub-unsub', 10, 60_000);
  await client.queue('sub-unsub').sendBatch(['x', 'y']);
  await waitFor('2 pushed', () => (s.pushedTo(sub).length >= 2 ? true : undefined));
  t.same(await s.ok('unsubscribe', { sub }), { unsubscribed: true });
  await client.queue('sub-unsub').send('after');
  await quiet();
  t.equal(s.pushedTo(sub).length, 2, 'nothing pushed after unsubscribe');
  t.match((await s.call('unsubscribe', { sub })).error, { code: ErrorCodes.UnknownSubscription, field: 'sub' }, 'twice: unknown');
  t.match((await s.call('credit', { sub, credit: 1 })).error, { code: ErrorCodes.UnknownSubscription, field: 'sub' });
  // Leases taken before unsubscribing stay: the consumer may still be finishing those messages.
  t.match((await client.getQueueAttributes('sub-unsub')).stats, { leased: 2, visible: 1 });
  t.same(await s.ok('delete', { queue: 'sub-unsub', receipt: s.pushedTo(sub)[0]!.receipt }), { deleted: true });
});

t.test('two subscribers share a queue: every message to exactly one of them', async (t) => {
  await client.createQueue('sub-share');
  const a = await rawSocket();
  const b = await rawSocket();
  const subA = await subscribe(a, 'sub-share', 1000);
  const subB = await subscribe(b, 'sub-share', 1000);
  const sent = bodies(300, 's');
  for (let i = 0; i < sent.length; i += 50) await client.queue('sub-share').sendBatch(sent.slice(i, i + 50));
  await waitFor('300 pushed in all', () => (a.pushedTo(subA).length + b.pushedTo(subB).length >= 300 ? true : undefined));
  await quiet();
  const gotA = a.pushedTo(subA).map((m) => text(m.body));
  const gotB = b.pushedTo(subB).map((m) => text(m.body));
  t.equal(gotA.length + gotB.length, 300, 'nothing pushed twice');
  t.same([...gotA, ...gotB].sort(), [...sent].sort(), 'every message once');
  t.ok(gotA.length > 0 && gotB.length > 0, `both subscribers got a share (${gotA.length}/${gotB.length})`);
});

for (const how of ['closes cleanly', 'drops without a close frame'] as const) {
  t.test(`a subscription's leases are released at once when its socket ${how}`, async (t) => {
    const queue = `sub-release-${how === 'closes cleanly' ? 'close' : 'drop'}`;
    await client.createQueue(queue);
    await client.queue(queue).sendBatch(bodies(5, 'r'));
    const s = await RawSocket.open(broker.url);
    const sub = await subscribe(s, queue, 5, 600_000); // a ten-minute lease
    await waitFor('5 pushed', () => (s.pushedTo(sub).length >= 5 ? true : undefined));
    t.match((await client.getQueueAttributes(queue)).stats, { leased: 5, visible: 0 });
    if (how === 'closes cleanly') await s.close();
    else s.terminate();
    // Another consumer gets them now (its wait is far shorter than the ten-minute lease).
    const got: DeliveredMessage[] = [];
    const deadline = Date.now() + 10_000;
    while (got.length < 5 && Date.now() < deadline) got.push(...await client.queue(queue).receive({ max: 10, waitMs: 2000 }));
    t.same(got.map((m) => text(m.body)).sort(), bodies(5, 'r'), 'all five available again');
    t.ok(got.every((m) => m.receiveCount === 2), 'as second deliveries');
    t.same(got.map((m) => m.messageId).sort(), s.pushedTo(sub).map((m) => m.messageId).sort());
  });
}

t.test('closing one socket releases only its own subscription’s leases', async (t) => {
  await client.createQueue('sub-release-own');
  const keep = await rawSocket();
  const subKeep = await subscribe(keep, 'sub-release-own', 2, 600_000);
  await client.queue('sub-release-own').sendBatch(bodies(4, 'o'));
  await waitFor('2 pushed to the keeper', () => (keep.pushedTo(subKeep).length >= 2 ? true : undefined));
  const gone = await RawSocket.open(broker.url);
  const subGone = await subscribe(gone, 'sub-release-own', 2, 600_000);
  await waitFor('2 pushed to the other', () => (gone.pushedTo(subGone).length >= 2 ? true : undefined));
  const [polled] = await client.queue('sub-release-own').receive({ max: 1 });
  t.equal(polled, undefined, 'all four are leased');
  gone.terminate();
  const back: DeliveredMessage[] = [];
  const deadline = Date.now() + 10_000;
  while (back.length < 2 && Date.now() < deadline) back.push(...await client.queue('sub-release-own').receive({ max: 10, waitMs: 1000, visibilityMs: 600_000 }));
  t.same(back.map((m) => m.messageId).sort(), gone.pushedTo(subGone).map((m) => m.messageId).sort(), 'exactly the closed one’s messages come back');
  t.match((await client.getQueueAttributes('sub-release-own')).stats, { leased: 4, visible: 0 }, 'the live subscription keeps its leases');
});

t.test('deleting the queue ends its subscriptions with QueueDoesNotExist', async (t) => {
  await client.createQueue('sub-deleted');
  const s = await rawSocket();
  const sub = await subscribe(s, 'sub-deleted', 10);
  await client.deleteQueue('sub-deleted');
  const end = await waitFor('a subscription end', () => s.subEnds.find((e) => e.sub === sub));
  t.match(end.end, { code: ErrorCodes.QueueDoesNotExist, field: 'queue' });
  t.match((await s.call('credit', { sub, credit: 1 })).error, { code: ErrorCodes.UnknownSubscription });
});

t.test('consume(): acks when the handler resolves, nacks when it throws', async (t) => {
  await client.createQueue('sub-consume');
  const q = client.queue('sub-consume');
  await q.sendBatch(bodies(20, 'c'));
  const seen = new Map<string, number[]>();
  let failedOnce = false;
  const consumer = await q.consume(async (m) => {
    const body = text(m.body);
    seen.set(body, [...(seen.get(body) ?? []), m.receiveCount]);
    if (body === 'c7' && !failedOnce) {
      failedOnce = true;
      throw new Error('try again');
    }
  }, { prefetch: 5 });
  await waitFor('every message acked', () => (consumer.stats.acked >= 20 ? true : undefined), 10_000);
  await consumer.close();
  t.same([...seen.keys()].sort(), bodies(20, 'c').sort(), 'every message handled');
  t.same(seen.get('c7'), [1, 2], 'the failed one was nacked and came again with receiveCount 2');
  t.match(consumer.stats, { acked: 20, nacked: 1 });
  let left = (await q.attributes()).stats;
  for (let i = 0; i < 100 && left.leased + left.visible > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    left = (await q.attributes()).stats;
  }
  t.match(left, { visible: 0, leased: 0, delayed: 0 }, 'acked messages are deleted from the queue');
});

t.test('consume(): prefetch bounds the messages held at once', async (t) => {
  await client.createQueue('sub-prefetch');
  const q = client.queue('sub-prefetch');
  await q.sendBatch(bodies(10, 'p'));
  const release: Array<() => void> = [];
  const consumer = await q.consume(() => new Promise<void>((r) => release.push(r)), { prefetch: 3 });
  await waitFor('3 handlers running', () => (release.length >= 3 ? true : undefined));
  await quiet();
  t.equal(release.length, 3, 'only 3 delivered while none is done');
  t.match((await q.attributes()).stats, { leased: 3, visible: 7 }, 'the server leased only the prefetch');
  // Each finished handler lets one more in, until all are done.
  const deadline = Date.now() + 10_000;
  let released = 0;
  while (consumer.stats.acked < 10 && Date.now() < deadline) {
    while (released < release.length) release[released++]!();
    await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(consumer.stats.acked, 10);
  await consumer.close();
});

t.test('a subscribe and a long poll sent with the createQueue of their queue, on a socket that drops at once, hold nothing', async (t) => {
  // The two wait in the router for the create; the socket's close must cancel them, or they would
  // reach the shard after its closeSession and lease messages for a connection that is gone.
  for (let i = 0; i < 3; i++) {
    const queue = `sub-held-${i}`;
    const s = await RawSocket.open(broker.url);
    s.sendValue([
      { id: 1, op: 'createQueue', args: { queue } },
      { id: 2, op: 'subscribe', args: { queue, credit: 5, visibilityMs: 600_000 } },
      { id: 3, op: 'receive', args: { queue, waitMs: 20_000, visibilityMs: 600_000 } },
    ]);
    s.terminate();
    const deadline = Date.now() + 5000;
    while (!(await client.listQueues({ prefix: queue })).queues.includes(queue) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await client.queue(queue).sendBatch(bodies(6, 'h'));
    await quiet();
    t.match((await client.getQueueAttributes(queue)).stats, { visible: 6, leased: 0 }, `${queue}: nothing leased by the dead connection`);
  }
});
