// Dead-letter queues in the actor (docs/queue-semantics.md, "Dead-letter queues"): every reason,
// the metadata a dead letter carries, idempotent insert of replayed moves, and redrive slices.
// The cross-shard move through a real broker (and kill -9) is in dlq-broker.test.ts.
import t from 'tap';
import { actorHarness, carryForwards, text } from './helpers/actor.js';

function pair(attrs: Record<string, unknown> = {}) {
  const dlq = actorHarness({}, { name: 'dlq' });
  const q = actorHarness({ visibilityMs: 100, deadLetter: { queue: 'dlq', maxReceives: 3 }, ...attrs });
  return { q, dlq };
}

t.test('maxReceives through lease expiry: the third expired lease dead-letters instead of redelivering', async (t) => {
  const { q, dlq } = pair();
  const sent = q.send('m', 0, { groupId: 'g' });
  let now = 0;
  for (let i = 1; i <= 3; i++) {
    const [m] = q.receive(now);
    t.equal(m!.receiveCount, i);
    now += 100;
    q.tick(now);
  }
  t.same(q.receive(now), [], 'not delivered a fourth time');
  t.match(q.actor.stats(now), { messages: 0, deadLettered: 1 });
  t.equal(q.store.forwards.size, 1);
  carryForwards(q, [dlq], now);
  t.equal(q.store.forwards.size, 0);
  const [d] = dlq.receive(now);
  t.equal(text(d!), 'm');
  t.equal(d!.groupId, 'g', 'group kept');
  t.same(d!.deadLetter, { reason: 'maxReceives', sourceQueue: 'q', originalMessageId: sent.messageId, receiveCount: 3, firstSentAt: 0, deadLetteredAt: 300 });
});

t.test('maxReceives through nack (with and without delay)', async (t) => {
  const { q, dlq } = pair();
  q.send('m', 0);
  let [m] = q.receive(0);
  t.same(q.nack(m!.receipt, 1), { visibleAt: 1 });
  [m] = q.receive(1);
  t.same(q.nack(m!.receipt, 2, { delayMs: 10 }), { visibleAt: 12 });
  q.tick(12);
  [m] = q.receive(12);
  t.equal(m!.receiveCount, 3);
  t.same(q.nack(m!.receipt, 13), { deadLettered: true }, 'the third nack dead-letters');
  carryForwards(q, [dlq], 14);
  t.match(dlq.receive(14), [{ deadLetter: { reason: 'maxReceives', receiveCount: 3 } }]);
});

t.test('nack with requeue false: rejected to the DLQ, or deleted without one', async (t) => {
  const { q, dlq } = pair();
  q.send('bad', 0);
  const [m] = q.receive(0);
  t.same(q.nack(m!.receipt, 1, { requeue: false }), { deadLettered: true });
  carryForwards(q, [dlq], 2);
  t.match(dlq.receive(2), [{ deadLetter: { reason: 'rejected', receiveCount: 1 } }]);

  const plain = actorHarness();
  plain.send('bad', 0);
  const [p] = plain.receive(0);
  t.same(plain.nack(p!.receipt, 1, { requeue: false }), { deleted: true });
  t.match(plain.actor.stats(1), { messages: 0, dropped: 1 });
});

t.test('deleting a non-empty queue dead-letters every message (queueDeleted), leased ones too', async (t) => {
  const { q, dlq } = pair();
  for (const b of ['a', 'b', 'c']) q.send(b, 0);
  q.send('later', 0, { delayMs: 5000 });
  q.receive(0);
  q.ok(q.call({ op: 'deleteQueue' }, 1));
  t.ok(q.store.removed);
  t.equal(q.store.forwards.size, 4, 'the outbox records outlive the queue');
  carryForwards(q, [dlq], 2);
  const got = dlq.receive(2, { max: 10 });
  t.same(got.map(text).sort(), ['a', 'b', 'c', 'later']);
  t.ok(got.every((m) => m.deadLetter?.reason === 'queueDeleted' && m.deadLetter.sourceQueue === 'q'));
});

t.test('a replayed move (crash before the source dropped its record) is inserted once', async (t) => {
  const { q, dlq } = pair();
  q.send('m', 0);
  const [m] = q.receive(0);
  q.nack(m!.receipt, 1, { requeue: false });
  const [[seq, record]] = [...q.store.forwards];
  const item = { origin: { qid: q.qid, seq: seq! }, message: record!.message };
  t.same(dlq.ok(dlq.call({ op: 'insert', args: { items: [item] } }, 2)), { inserted: 1, duplicates: 0 });
  dlq.restart(3); // the marker is durable
  t.same(dlq.ok(dlq.call({ op: 'insert', args: { items: [item] } }, 4)), { inserted: 0, duplicates: 1 }, 'the replay is ignored');
  t.equal(dlq.actor.stats(4).messages, 1);
  dlq.actor.forget({ qid: q.qid, seq: seq! });
  t.equal(dlq.store.markers.size, 0, 'the marker goes once the source dropped its record');
});

t.test('maxReceives lowered below a message\'s count: dead-lettered at its next delivery, never delivered', async (t) => {
  const { q } = pair({ deadLetter: { queue: 'dlq', maxReceives: 10 } });
  q.send('m', 0);
  for (let i = 0; i < 3; i++) {
    q.receive(i * 100);
    q.tick(i * 100 + 100);
  }
  q.ok(q.call({ op: 'setQueueAttributes', args: { queue: 'q', attributes: { deadLetter: { queue: 'dlq', maxReceives: 2 } } } }, 400));
  t.same(q.receive(400), []);
  t.equal(q.store.forwards.size, 1);
});

t.test('self dead-letter is refused; removing the DLQ while overflow is deadLetterNew is refused', async (t) => {
  const q = actorHarness();
  t.match(q.call({ op: 'setQueueAttributes', args: { queue: 'q', attributes: { deadLetter: { queue: 'q', maxReceives: 1 } } } }, 0), {
    error: { code: 'InvalidAttribute', field: 'attributes.deadLetter.queue' },
  });
  const { q: q2 } = pair({ overflow: 'deadLetterNew', maxLength: 1 });
  t.match(q2.call({ op: 'setQueueAttributes', args: { queue: 'q', attributes: { deadLetter: null } } }, 0), {
    error: { code: 'InvalidAttribute', field: 'attributes.overflow' },
  });
});

t.test('redrive slices: back to each message\'s source queue, leased ones stay, at most max per slice', async (t) => {
  const { q, dlq } = pair();
  for (let i = 0; i < 5; i++) {
    q.send(`m${i}`, 0);
    const [m] = q.receive(0);
    q.nack(m!.receipt, 0, { requeue: false });
  }
  carryForwards(q, [dlq], 1);
  dlq.receive(1); // one leased: not moved
  t.same(dlq.ok(dlq.call({ op: 'redriveBatch', args: { max: 2 } }, 2)), { moved: 2, remaining: 3 });
  t.same(dlq.ok(dlq.call({ op: 'redriveBatch', args: { max: 10 } }, 3)), { moved: 2, remaining: 1 });
  t.equal(carryForwards(dlq, [q], 4), 4);
  const back = q.receive(4, { max: 10 });
  t.equal(back.length, 4);
  t.ok(back.every((m) => m.deadLetter === undefined && m.receiveCount === 1), 'a redriven message starts a fresh life');
});

t.test('redrive to a named queue', async (t) => {
  const { q, dlq } = pair();
  const other = actorHarness({}, { name: 'other' });
  q.send('m', 0);
  const [m] = q.receive(0);
  q.nack(m!.receipt, 0, { requeue: false });
  carryForwards(q, [dlq], 1);
  dlq.ok(dlq.call({ op: 'redriveBatch', args: { max: 10, target: 'other' } }, 2));
  carryForwards(dlq, [q, other], 3);
  t.same(other.receive(3).map(text), ['m']);
  t.same(q.receive(3), []);
});
