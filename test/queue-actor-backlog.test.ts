// QueueActor with its plain messages in the compact backlog (no body cache: every plain visible
// message is an entry of about a byte until it is delivered, expired, dropped or moved). The queue must
// behave exactly as with message objects: ids, bodies, order, counts, expiry, overflow, moves.
import t from 'tap';
import { actorHarness, carryForwards, text } from './helpers/actor.js';
import type { DeliveredMessage } from '../src/protocol/ops.js';

const NO_CACHE = { cacheBytes: 0 };

t.test('plain messages: delivered in order with the ids and bodies they were sent with; stats count them', async (t) => {
  const q = actorHarness({}, NO_CACHE);
  const n = 20_000;
  const sent = Array.from({ length: n }, (_, i) => q.send(`m${i}`, i));
  const s = q.actor.stats(n);
  t.match(s, { messages: n, visible: n, leased: 0, oldestAgeMs: n });
  t.equal(s.bytes, sent.reduce((b, _, i) => b + `m${i}`.length, 0));
  const got: DeliveredMessage[] = [];
  for (let i = 0; i < 30 && got.length < n; i++) got.push(...q.receive(n, { max: 1000 }));
  t.equal(got.length, n);
  let bad = 0;
  got.forEach((m, i) => {
    if (m.seq !== sent[i]!.seq || m.messageId !== sent[i]!.messageId || text(m) !== `m${i}` || m.receiveCount !== 1) bad++;
  });
  t.equal(bad, 0, 'FIFO, ids and bodies exact');
  t.match(q.actor.stats(n), { messages: n, visible: 0, leased: n });
  for (const m of got) q.del(m.receipt, n);
  t.match(q.actor.stats(n), { messages: 0, bytes: 0 });
});

t.test('plain and other messages (attributes, delay) share one line in sequence order', async (t) => {
  const q = actorHarness({}, NO_CACHE);
  q.send('a', 0);
  q.send('b', 0, { attributes: { k: { type: 'string', value: 'v' } } });
  q.send('c', 0, { delayMs: 5 });
  q.send('d', 0);
  q.tick(10);
  t.same(q.receive(10, { max: 10 }).map(text), ['a', 'b', 'c', 'd']);
});

t.test('a message that comes back (nack, lease end) is delivered again before later plain ones', async (t) => {
  const q = actorHarness({ visibilityMs: 100 }, NO_CACHE);
  for (const b of ['a', 'b', 'c']) q.send(b, 0);
  const [a] = q.receive(0);
  t.same(q.nack(a!.receipt, 1), { visibleAt: 1 });
  t.same(q.receive(1, { max: 1 }).map((m) => [text(m), m.receiveCount]), [['a', 2]]);
  q.tick(200); // a's second lease ends
  t.same(q.receive(200, { max: 10 }).map((m) => [text(m), m.receiveCount]), [['a', 3], ['b', 1], ['c', 1]]);
});

t.test('retention expires backlog messages oldest first, to the dead-letter queue with their ids', async (t) => {
  const q = actorHarness({ retentionMs: 60_000, deadLetter: { queue: 'dlq', maxReceives: 5 } }, NO_CACHE);
  const dlq = actorHarness({}, { name: 'dlq' });
  const old = [q.send('o1', 0), q.send('o2', 1)];
  q.send('young', 30_000);
  t.equal(q.actor.nextDeadline(), 60_000, 'the backlog head sets the retention deadline');
  q.tick(60_001);
  t.match(q.actor.stats(60_001), { messages: 1, visible: 1, expired: 2, deadLettered: 2, oldestAgeMs: 30_001 });
  t.equal(carryForwards(q, [dlq], 60_001), 2);
  const dead = dlq.receive(60_001, { max: 10 });
  t.same(dead.map((m) => [text(m), m.deadLetter?.reason, m.deadLetter?.originalMessageId]), [['o1', 'expired', old[0]!.messageId], ['o2', 'expired', old[1]!.messageId]]);
  t.same(q.receive(60_001).map(text), ['young']);
});

t.test('overflow dropHead drops the oldest, from the backlog', async (t) => {
  const q = actorHarness({ maxLength: 3, overflow: 'dropHead' }, NO_CACHE);
  for (let i = 0; i < 5; i++) q.send(`m${i}`, i);
  t.match(q.actor.stats(5), { messages: 3, dropped: 2 });
  t.same(q.receive(5, { max: 10 }).map(text), ['m2', 'm3', 'm4']);
});

t.test('maxLength reject counts the backlog', async (t) => {
  const q = actorHarness({ maxLength: 2, overflow: 'reject' }, NO_CACHE);
  q.send('a', 0);
  q.send('b', 0);
  t.match(q.call({ op: 'send', args: { queue: 'q', body: Buffer.from('c') } }, 0), { error: { code: 'QueueFull' } });
});

t.test('redrive to a named queue moves backlog messages with their ids; without a target they stay', async (t) => {
  const q = actorHarness({}, NO_CACHE);
  const other = actorHarness({}, { name: 'other' });
  const sent = ['a', 'b', 'c'].map((b) => q.send(b, 0));
  t.same(q.ok(q.call({ op: 'redriveBatch', args: { max: 10 } }, 1)), { moved: 0, remaining: 3 }, 'plain messages have no source queue');
  t.same(q.ok(q.call({ op: 'redriveBatch', args: { max: 2, target: 'other' } }, 1)), { moved: 2, remaining: 1 });
  t.equal(carryForwards(q, [other], 1), 2);
  t.same(other.receive(1, { max: 10 }).map(text), ['a', 'b']);
  t.same([...q.store.forwards.values()], []);
  t.same(q.receive(1, { max: 10 }).map((m) => m.messageId), [sent[2]!.messageId]);
});

t.test('switching to strict ordering keeps acceptance order across backlog and promoted messages', async (t) => {
  const q = actorHarness({ visibilityMs: 1000 }, NO_CACHE);
  for (let i = 0; i < 5; i++) q.send(`m${i}`, 0);
  const [first] = q.receive(0);
  q.ok(q.call({ op: 'setQueueAttributes', args: { queue: 'q', attributes: { ordering: 'strict' } } }, 1));
  t.same(q.receive(1, { max: 10 }), [], 'the group waits behind its leased head');
  q.del(first!.receipt, 2);
  const order: string[] = [];
  for (let i = 0; i < 10; i++) {
    const [m] = q.receive(3 + i);
    if (m === undefined) break;
    order.push(text(m));
    q.del(m.receipt, 3 + i);
  }
  t.same(order, ['m1', 'm2', 'm3', 'm4']);
  q.ok(q.call({ op: 'setQueueAttributes', args: { queue: 'q', attributes: { ordering: 'relaxed' } } }, 20));
  q.send('x', 20);
  t.same(q.receive(20, { max: 5 }).map(text), ['x'], 'relaxed again: plain messages use the backlog again');
});

t.test('purge empties the backlog; deleteQueue dead-letters it with ids', async (t) => {
  const q = actorHarness({}, NO_CACHE);
  for (let i = 0; i < 4; i++) q.send(`m${i}`, 0);
  t.same(q.ok(q.call({ op: 'purgeQueue' }, 1)), { purged: 4 });
  t.match(q.actor.stats(1), { messages: 0, visible: 0, bytes: 0 });
  t.same(q.receive(1), []);
  q.send('after', 2);
  t.same(q.receive(2).map(text), ['after']);

  const d = actorHarness({ deadLetter: { queue: 'dlq', maxReceives: 3 } }, NO_CACHE);
  const dlq = actorHarness({}, { name: 'dlq' });
  const sent = ['a', 'b'].map((b) => d.send(b, 0));
  d.ok(d.call({ op: 'deleteQueue' }, 1));
  t.equal(carryForwards(d, [dlq], 1), 2);
  t.same(dlq.receive(1, { max: 5 }).map((m) => [text(m), m.deadLetter?.reason, m.deadLetter?.originalMessageId]), [
    ['a', 'queueDeleted', sent[0]!.messageId], ['b', 'queueDeleted', sent[1]!.messageId],
  ]);
});

t.test('a restart rebuilds plain messages in order', async (t) => {
  const q = actorHarness({}, NO_CACHE);
  const sent = ['a', 'b', 'c'].map((b) => q.send(b, 0));
  q.restart(1);
  t.match(q.actor.stats(1), { messages: 3, visible: 3 });
  t.same(q.receive(1, { max: 5 }).map((m) => m.messageId), sent.map((s) => s.messageId));
});

t.test('push subscriptions take from the backlog', async (t) => {
  const q = actorHarness({}, NO_CACHE);
  for (let i = 0; i < 5; i++) q.send(`m${i}`, 0);
  q.ok(q.call({ op: 'subscribe', session: 7, sub: 1, args: { queue: 'q', credit: 3 } }, 0));
  t.same(q.out.pushes.flatMap((p) => p.messages.map(text)), ['m0', 'm1', 'm2']);
  q.actor.closeSession(7, 1);
  t.match(q.actor.stats(1), { messages: 5, visible: 5, leased: 0 });
  const again = q.receive(1, { max: 10 }).map(text);
  t.same([...again.slice(0, 3)].sort(), ['m0', 'm1', 'm2'], 'the released leases come back first (front of the line)');
  t.same(again.slice(3), ['m3', 'm4']);
});
