// Length limits (docs/queue-semantics.md, "Length"): maxLength and maxBytes with each overflow policy.
import t from 'tap';
import { actorHarness, carryForwards, text } from './helpers/actor.js';

t.test('reject: the send fails with QueueFull; nothing is stored', async (t) => {
  const q = actorHarness({ maxLength: 2 });
  q.send('a', 0);
  q.send('b', 0);
  t.match(q.call({ op: 'send', args: { queue: 'q', body: Buffer.from('c') } }, 0), { error: { code: 'QueueFull', field: 'queue' } });
  t.equal(q.store.messages.size, 2);
  const batch = q.call({ op: 'sendBatch', args: { queue: 'q', entries: [{ body: Buffer.from('d') }] } }, 0);
  t.match(batch, { result: { results: [{ error: { code: 'QueueFull', field: 'entries.0.queue' } }] } });
  const [m] = q.receive(1);
  q.ok(q.del(m!.receipt, 1));
  t.match(q.send('e', 2), { seq: 2 }, 'room again after a delete');
});

t.test('maxBytes counts body bytes', async (t) => {
  const q = actorHarness({ maxBytes: 10 });
  q.send('12345', 0);
  q.send('12345', 0);
  t.match(q.call({ op: 'send', args: { queue: 'q', body: Buffer.from('1') } }, 0), { error: { code: 'QueueFull' } });
});

t.test('dropHead without a DLQ: the oldest messages are dropped to make room', async (t) => {
  const q = actorHarness({ maxLength: 3, overflow: 'dropHead' });
  for (const b of ['a', 'b', 'c', 'd', 'e']) q.send(b, 0);
  t.same(q.receive(1, { max: 10 }).map(text), ['c', 'd', 'e']);
  t.match(q.actor.stats(1), { dropped: 2, messages: 3 });
});

t.test('dropHead with a DLQ: the oldest go to the DLQ with reason overflow; maxBytes too', async (t) => {
  const dlq = actorHarness({}, { name: 'dlq' });
  const q = actorHarness({ maxBytes: 6, overflow: 'dropHead', deadLetter: { queue: 'dlq', maxReceives: 5 } });
  q.send('aa', 0);
  q.send('bb', 0);
  q.send('cc', 0);
  q.send('dddd', 0); // needs 4 bytes: aa and bb go
  carryForwards(q, [dlq], 1);
  t.same(dlq.receive(1, { max: 10 }).map((m) => [text(m), m.deadLetter?.reason]), [['aa', 'overflow'], ['bb', 'overflow']]);
  t.same(q.receive(1, { max: 10 }).map(text), ['cc', 'dddd']);
  t.match(q.call({ op: 'send', args: { queue: 'q', body: Buffer.from('1234567') } }, 2), { error: { code: 'QueueFull' } }, 'a body larger than maxBytes never fits');
});

t.test('deadLetterNew: the new message goes to the DLQ and the reply says so', async (t) => {
  const dlq = actorHarness({}, { name: 'dlq' });
  const q = actorHarness({ maxLength: 1, overflow: 'deadLetterNew', deadLetter: { queue: 'dlq', maxReceives: 5 } });
  q.send('kept', 0);
  const r = q.send('spilled', 0);
  t.match(r, { deadLettered: true });
  carryForwards(q, [dlq], 1);
  t.match(dlq.receive(1), [{ deadLetter: { reason: 'overflow', originalMessageId: r.messageId, receiveCount: 0 } }]);
  t.same(q.receive(1).map(text), ['kept']);
});

t.test('overflow needs its attributes valid: deadLetterNew without a DLQ is refused at create', async (t) => {
  t.throws(() => actorHarness({ overflow: 'deadLetterNew' }), { code: 'InvalidAttribute', field: 'attributes.overflow' });
});

t.test('moves into a full queue are never refused (a dead letter must not get stuck)', async (t) => {
  const q = actorHarness({ maxLength: 1 });
  q.send('a', 0);
  q.ok(q.call({ op: 'insert', args: { items: [{ message: { id: 'x', body: Buffer.from('moved') } }] } }, 0));
  t.equal(q.actor.stats(0).messages, 2);
});
