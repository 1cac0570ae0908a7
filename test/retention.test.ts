// Time rules of a queue (docs/queue-semantics.md, "Time"): retention, per-message ttl, delay.
// Expired messages are never delivered; dead-lettered when the queue has a DLQ, else deleted.
import t from 'tap';
import { actorHarness, carryForwards, text } from './helpers/actor.js';

const MIN = 60_000;

t.test('retention: a message older than retentionMs is deleted and never delivered', async (t) => {
  const q = actorHarness({ retentionMs: MIN });
  q.send('old', 0);
  q.send('young', 30_000);
  t.equal(q.actor.nextDeadline(), MIN, 'the oldest message sets the next deadline');
  q.tick(MIN);
  t.same(q.receive(MIN, { max: 10 }).map(text), ['young']);
  t.match(q.actor.stats(MIN), { expired: 1, messages: 1, deadLettered: 0 });
  t.notOk(q.store.messages.has(0), 'deleted from the store');
});

t.test('an expired message is never delivered even before the tick runs', async (t) => {
  const q = actorHarness({ retentionMs: MIN });
  q.send('a', 0);
  t.same(q.receive(MIN + 5), [], 'receive at a later time does not deliver it');
  t.equal(q.actor.stats(MIN + 5).expired, 1);
});

t.test('ttl per message: shorter than retention; longer is refused naming ttlMs', async (t) => {
  const q = actorHarness({ retentionMs: 10 * MIN });
  q.send('short', 0, { ttlMs: 1000 });
  q.send('long', 0);
  t.equal(q.actor.nextDeadline(), 1000);
  q.tick(1000);
  t.same(q.receive(1000, { max: 10 }).map(text), ['long']);
  t.match(q.call({ op: 'send', args: { queue: 'q', body: Buffer.from('x'), ttlMs: 10 * MIN + 1 } }, 0), { error: { code: 'ValueOutOfRange', field: 'ttlMs' } });
});

t.test('expiry while leased or delayed: the message leaves; a late delete finds nothing', async (t) => {
  const q = actorHarness({ visibilityMs: 5000 });
  q.send('leased', 0, { ttlMs: 1000 });
  q.send('delayed', 0, { ttlMs: 1000, delayMs: 2000 });
  const [m] = q.receive(0);
  q.tick(1000);
  t.match(q.actor.stats(1000), { leased: 0, delayed: 0, visible: 0, messages: 0, expired: 2 });
  t.same(q.del(m!.receipt, 1001), { result: { deleted: false } });
});

t.test('expired messages go to the dead-letter queue with reason expired', async (t) => {
  const dlq = actorHarness({}, { name: 'dlq' });
  const q = actorHarness({ deadLetter: { queue: 'dlq', maxReceives: 5 } });
  const sent = q.send('payload', 100, { ttlMs: 1000, attributes: { k: 'v' } });
  q.tick(1100);
  t.equal(q.store.forwards.size, 1, 'outbox record written in the same turn that removed it');
  t.notOk(q.store.messages.has(sent.seq));
  t.equal(carryForwards(q, [dlq], 1200), 1);
  const [d] = dlq.receive(1200);
  t.equal(text(d!), 'payload');
  t.same(d!.attributes, { k: 'v' }, 'attributes kept');
  t.same(d!.deadLetter, { reason: 'expired', sourceQueue: 'q', originalMessageId: sent.messageId, receiveCount: 0, firstSentAt: 100, deadLetteredAt: 1100 });
});

t.test('delay per queue and per message, up to 15 minutes', async (t) => {
  const q = actorHarness({ delayMs: 100 });
  q.send('queue-delay', 0);
  q.send('msg-delay', 0, { delayMs: 900_000 });
  t.same(q.receive(0), []);
  q.tick(100);
  const [first] = q.receive(100);
  t.equal(text(first!), 'queue-delay');
  q.ok(q.del(first!.receipt, 100));
  q.tick(900_000);
  t.same(q.receive(900_000).map(text), ['msg-delay']);
});

t.test('changing retention applies to messages already in the queue', async (t) => {
  const q = actorHarness({ retentionMs: 10 * MIN });
  q.send('a', 0);
  q.ok(q.call({ op: 'setQueueAttributes', args: { queue: 'q', attributes: { retentionMs: MIN } } }, 1));
  t.equal(q.actor.nextDeadline(), MIN);
  q.tick(MIN);
  t.equal(q.actor.stats(MIN).messages, 0);
});

t.test('expiry scales: 100,000 ttl messages cost one heap; deleted ones do not pile up', async (t) => {
  const q = actorHarness({ visibilityMs: 1000 }, { cacheBytes: 0 });
  for (let i = 0; i < 100_000; i++) q.send('x', 0, { ttlMs: 60_000 + (i % 1000) });
  let got = 0;
  for (let r = q.receive(0, { max: 1000 }); r.length > 0; r = q.receive(0, { max: 1000 })) {
    for (const m of r) q.ok(q.del(m.receipt, 0));
    got += r.length;
  }
  t.equal(got, 100_000);
  q.tick(1);
  t.equal(q.actor.stats(1).messages, 0);
  q.send('y', 2, { ttlMs: 1000 });
  q.tick(1002);
  t.equal(q.actor.stats(1002).expired, 1);
});

t.test('restart: ttl and retention survive recovery', async (t) => {
  const q = actorHarness({ retentionMs: MIN });
  q.send('a', 0, { ttlMs: 5000 });
  q.send('b', 0);
  q.restart(10);
  t.equal(q.actor.nextDeadline(), 5000);
  q.tick(5000);
  t.same(q.receive(5000).map(text), ['b']);
  q.tick(MIN);
  t.equal(q.actor.stats(MIN).messages, 0);
});
