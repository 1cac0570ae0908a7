// Dead-letter queues in stream mode (docs/queue-semantics.md, "Stream mode", "Dead letters per
// group"): each consumer group applies maxReceives and nack(requeue: false) to its own deliveries;
// the group that gives up on a message sends its own copy to the DLQ and moves past it, while the
// log keeps the message for the other groups. The cross-shard move through a real broker is in
// stream-dlq-broker.test.ts.
import t from 'tap';
import { actorHarness, carryForwards, text, type Harness } from './helpers/actor.js';
import type { DeliveredMessage, StreamGroupInfo } from '../src/protocol/ops.js';

function pair(maxReceives = 2): { q: Harness; dlq: Harness } {
  const dlq = actorHarness({}, { name: 'dlq' });
  const q = actorHarness({ mode: 'stream', visibilityMs: 100, deadLetter: { queue: 'dlq', maxReceives } });
  return { q, dlq };
}

const group = (q: Harness, name: string, now = 0): StreamGroupInfo =>
  q.ok<StreamGroupInfo>(q.call({ op: 'createGroup', args: { queue: 'q', group: name, start: 'earliest' } } as never, now));

const read = (q: Harness, g: string, now: number, max = 100): DeliveredMessage[] => q.receive(now, { group: g, max });

const groupInfo = (q: Harness, name: string, now: number): StreamGroupInfo | undefined =>
  q.ok<{ groups: StreamGroupInfo[] }>(q.call({ op: 'listGroups', args: { queue: 'q' } } as never, now)).groups.find((g) => g.group === name);

/** Group `g` receives `seq` and lets the lease expire, `times` times from `now`; returns the time after. */
function expireLeases(q: Harness, g: string, times: number, now: number, seq = 0): number {
  for (let i = 0; i < times; i++) {
    const got = read(q, g, now, 1);
    if (got.length !== 1 || got[0]!.seq !== seq) throw new Error(`expected seq ${seq} for ${g}, got ${JSON.stringify(got.map((m) => m.seq))}`);
    now += 100;
    q.tick(now);
  }
  return now;
}

t.test('maxReceives through lease expiry: that group dead-letters its copy and moves on; the other group still reads it', async (t) => {
  const { q, dlq } = pair(2);
  const sent = q.send('m0', 10);
  q.send('m1', 11);
  group(q, 'a');
  group(q, 'b');
  const firstRead = read(q, 'a', 20, 1);
  t.equal(firstRead[0]!.receiveCount, 1);
  q.tick(120);
  const second = read(q, 'a', 120, 1);
  t.same([text(second[0]!), second[0]!.receiveCount], ['m0', 2]);
  q.tick(220); // the second lease ends: a's maxReceives (2) is used up
  t.match(q.actor.stats(220), { messages: 2, deadLettered: 1 }, 'the log keeps the message');
  t.equal(q.store.groupForwards.size, 1, 'one outbox record, keyed by the group');
  t.same(read(q, 'a', 220).map(text), ['m1'], 'a moved past m0');
  t.same(read(q, 'b', 220).map(text), ['m0', 'm1'], 'b reads m0 as if nothing happened');
  t.equal(carryForwards(q, [dlq], 230), 1);
  const [d] = dlq.receive(230);
  t.equal(text(d!), 'm0');
  t.same(d!.deadLetter, {
    reason: 'maxReceives', sourceQueue: 'q', originalMessageId: sent.messageId, receiveCount: 2, firstSentAt: 10, deadLetteredAt: 220, group: 'a',
  });
  // a's committed position passes the dead letter once m1 is acknowledged.
  q.tick(320); // m1's lease (from 220) ends: it comes again
  const [m1] = read(q, 'a', 320);
  q.ok(q.del(m1!.receipt, 321));
  t.match(groupInfo(q, 'a', 321), { committed: 2, leased: 0 });
  t.equal(q.store.groupDeliveries.size, 2, 'only b\'s receive counts remain (the tombstone went with committed)');
});

t.test('maxReceives through nack, and nack requeue:false → rejected, per group', async (t) => {
  const { q, dlq } = pair(2);
  q.send('x', 0);
  q.send('y', 0);
  group(q, 'a');
  group(q, 'b');
  const [x1] = read(q, 'a', 1, 1);
  t.same(q.nack(x1!.receipt, 2), { visibleAt: 2 }, 'first nack: back to the group');
  const [x2] = read(q, 'a', 3, 1);
  t.equal(x2!.receiveCount, 2);
  t.same(q.nack(x2!.receipt, 4), { deadLettered: true }, 'second delivery nacked: maxReceives used up');
  const [y] = read(q, 'b', 5, 2).filter((m) => text(m) === 'y');
  t.same(q.nack(y!.receipt, 6, { requeue: false }), { deadLettered: true }, 'b rejects y for good');
  t.match(q.call({ op: 'nack', args: { queue: 'q', receipt: y!.receipt } }, 7), { error: { code: 'ReceiptHandleExpired' } }, 'the rejected delivery is over');
  t.same(read(q, 'a', 8).map(text), ['y'], 'a still gets y');
  t.same(read(q, 'b', 8).map(text), [], 'b gets neither again (x is leased to b, y rejected)');
  carryForwards(q, [dlq], 9);
  const letters = dlq.receive(9, { max: 10 }).map((m) => [text(m), m.deadLetter?.reason, m.deadLetter?.group, m.deadLetter?.receiveCount]);
  t.same(letters.sort(), [['x', 'maxReceives', 'a', 2], ['y', 'rejected', 'b', 1]]);
});

t.test('without a dead-letter queue: maxReceives does not apply, requeue:false acknowledges for the group', async (t) => {
  const q = actorHarness({ mode: 'stream', visibilityMs: 100 });
  q.send('m', 0);
  group(q, 'g');
  const now = expireLeases(q, 'g', 5, 0);
  const [m] = read(q, 'g', now);
  t.equal(m!.receiveCount, 6, 'redelivered without limit');
  t.same(q.nack(m!.receipt, now + 1, { requeue: false }), { deleted: true });
  t.match(groupInfo(q, 'g', now + 1), { committed: 1 });
  t.equal(q.store.groupDeliveries.size, 0, 'no receive counts persisted without a DLQ');
});

t.test('both groups dead-letter the same message: two copies, each idempotent under replay', async (t) => {
  const { q, dlq } = pair(1);
  q.send('m', 0);
  group(q, 'a');
  group(q, 'b');
  expireLeases(q, 'a', 1, 0);
  expireLeases(q, 'b', 1, 100);
  t.equal(q.store.groupForwards.size, 2, 'one move per group');
  const outbox = [...q.store.groupForwards.values()];
  const items = outbox.map(({ f, record }) => ({ origin: f, message: record.message }));
  t.same(dlq.ok(dlq.call({ op: 'insert', args: { items } }, 300)), { inserted: 2, duplicates: 0 });
  dlq.restart(301); // markers are durable
  t.same(dlq.ok(dlq.call({ op: 'insert', args: { items } }, 302)), { inserted: 0, duplicates: 2 }, 'a replay of either move is ignored');
  t.same(dlq.receive(303, { max: 10 }).map((m) => m.deadLetter?.group).sort(), ['a', 'b']);
  for (const { f } of outbox) dlq.actor.forget(f);
  t.equal(dlq.store.markers.size, 0, 'markers go once the source dropped its records');
});

t.test('restart in the middle: receive counts survive, a dead-lettered message is not dead-lettered twice', async (t) => {
  const { q, dlq } = pair(3);
  for (const b of ['m0', 'm1', 'm2']) q.send(b, 0);
  group(q, 'a');
  group(q, 'b');
  t.same(q.receive(0, { group: 'a', max: 1, visibilityMs: 1_000_000 }).map(text), ['m0'], 'a holds m0 unacknowledged: committed stays 0');
  let now = expireLeases(q, 'a', 2, 0, 1); // a: m1 received twice
  t.equal(read(q, 'b', now, 1)[0]!.receiveCount, 1, 'b: m0 leased once');
  q.restart(now);
  const after = read(q, 'a', now);
  t.same(after.map((m) => [text(m), m.receiveCount]), [['m0', 2], ['m1', 3], ['m2', 1]], 'a resumes at committed; the counts survived');
  now += 100;
  q.tick(now);
  t.equal(q.store.groupForwards.size, 1, 'a dead-lettered m1 when its third lease ended');
  q.restart(now + 1);
  t.match(groupInfo(q, 'a', now + 1), { committed: 0 }, 'the dead letter is above a\'s committed position');
  const again = read(q, 'a', now + 1);
  t.same(again.map(text), ['m0', 'm2'], 'after the restart a skips the message it dead-lettered');
  t.equal(q.store.groupForwards.size, 1, 'not dead-lettered twice');
  t.same(read(q, 'b', now + 1, 1).map((m) => [text(m), m.receiveCount]), [['m0', 2]], 'b\'s own count survived too');
  for (const m of again) q.ok(q.del(m.receipt, now + 2));
  t.match(groupInfo(q, 'a', now + 2), { committed: 3 });
  t.notOk([...q.store.groupDeliveries.keys()].some((k) => k.startsWith(`${(q.store.groups.get('a')!).gid}:`)), 'a\'s records (tombstone included) are gone');
  carryForwards(q, [dlq], now + 3);
  t.same(dlq.receive(now + 3, { max: 10 }).map((m) => [text(m), m.deadLetter?.group, m.deadLetter?.receiveCount]), [['m1', 'a', 3]]);
});

t.test('maxReceives lowered below a group\'s count: dead-lettered at its next delivery, never delivered', async (t) => {
  const { q } = pair(10);
  q.send('m', 0);
  group(q, 'g');
  const now = expireLeases(q, 'g', 3, 0);
  q.ok(q.call({ op: 'setQueueAttributes', args: { queue: 'q', attributes: { deadLetter: { queue: 'dlq', maxReceives: 2 } } } }, now));
  t.same(read(q, 'g', now), [], 'not delivered again');
  t.equal(q.store.groupForwards.size, 1);
  t.match([...q.store.groupForwards.values()][0]!.record.message.deadLetter, { reason: 'maxReceives', receiveCount: 3, group: 'g' });
});

t.test('seek and deleteGroup drop the group\'s receive counts; a push subscriber\'s closed socket counts as a lease end', async (t) => {
  const { q } = pair(1);
  q.send('m', 0);
  group(q, 'a');
  group(q, 'b');
  read(q, 'a', 0);
  t.equal(q.store.groupDeliveries.size, 1);
  q.ok(q.call({ op: 'seek', args: { queue: 'q', group: 'a', to: 'earliest' } } as never, 1));
  t.equal(q.store.groupDeliveries.size, 0, 'seek: a fresh start');
  t.equal(read(q, 'a', 2)[0]!.receiveCount, 1);
  q.ok(q.call({ op: 'deleteGroup', args: { queue: 'q', group: 'a' } } as never, 3));
  t.equal(q.store.groupDeliveries.size, 0, 'deleteGroup');
  q.ok(q.call({ op: 'subscribe', session: 7, sub: 1, args: { queue: 'q', credit: 5, group: 'b' } } as never, 4));
  t.equal(q.out.pushes.length, 1);
  q.actor.closeSession(7, 5);
  q.actor.endTurn(5);
  t.equal(q.store.groupForwards.size, 1, 'b\'s only allowed delivery ended with the socket: dead-lettered');
  t.match(groupInfo(q, 'b', 5), { committed: 1, leased: 0 });
});
