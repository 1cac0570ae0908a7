// QueueActor as a pure state machine: no sockets, no threads, no RocksDB. Time is passed in.
import t from 'tap';
import { QueueActor, type ActorRequest } from '../src/actors/queue-actor.js';
import { BodyCache } from '../src/actors/ports.js';
import { encodeReceipt, decodeReceipt } from '../src/actors/receipt.js';
import { DEFAULT_QUEUE_ATTRIBUTES, type DeliveredMessage } from '../src/protocol/ops.js';
import { Limits } from '../src/protocol/limits.js';
import { actorHarness, MemoryStore, Outbox, text, type Answer, type Request } from './helpers/actor.js';

const QID = '0011223344556677';

function setup(attrs: Partial<typeof DEFAULT_QUEUE_ATTRIBUTES> = {}, cacheBytes = 1 << 20) {
  const store = new MemoryStore();
  const out = new Outbox();
  const actor = new QueueActor<number>(
    { id: QID, name: 'q', attributes: { ...DEFAULT_QUEUE_ATTRIBUTES, ...attrs }, createdAt: 0, purgedBelow: 0 },
    0,
    { store, outbox: out, bodies: new BodyCache(cacheBytes) },
  );
  let r = 0;
  /** Runs one request as a full host turn and returns its answer. */
  const call = (req: Request, now: number): Answer => {
    const ref = ++r;
    actor.handle({ session: 1, ...req, ref } as ActorRequest<number>, now);
    actor.endTurn(now);
    return out.answers.get(ref)!;
  };
  const ok = <T>(a: Answer): T => {
    if ('error' in a) throw new Error(`unexpected error ${a.error.code}: ${a.error.message}`);
    return a.result as T;
  };
  const send = (body: string, now: number, extra: Record<string, unknown> = {}) =>
    ok<{ seq: number; messageId: string }>(call({ op: 'send', args: { queue: 'q', body: Buffer.from(body), ...extra } }, now));
  const receive = (now: number, args: Record<string, unknown> = {}) =>
    ok<{ messages: DeliveredMessage[] }>(call({ op: 'receive', args: { queue: 'q', ...args } }, now)).messages;
  return { store, out, actor, call, ok, send, receive };
}

t.test('send then receive leases the message with receive count 1', async (t) => {
  const { send, receive, actor } = setup();
  send('a', 1000);
  const [m] = receive(1000, { max: 10 });
  t.equal(Buffer.from(m!.body).toString(), 'a');
  t.equal(m!.receiveCount, 1);
  t.equal(m!.firstReceivedAt, 1000);
  t.match(actor.stats(1000), { visible: 0, leased: 1, delayed: 0, oldestAgeMs: 0, bytes: 1 });
  t.same(receive(1001), [], 'a leased message is not delivered again inside its lease');
});

t.test('an expired lease makes the message visible again and redelivery bumps the count', async (t) => {
  const { send, receive, actor, store } = setup({ visibilityMs: 100 });
  const { seq } = send('a', 0);
  receive(0);
  actor.tick(99);
  t.same(receive(99), [], 'not yet expired');
  actor.tick(100);
  const [again] = receive(100);
  t.equal(again!.receiveCount, 2);
  t.equal(again!.firstReceivedAt, 0, 'first receive time is kept');
  t.equal(store.deliveries.size, 0, 'without a dead-letter queue a delivery writes no per-message record');
  t.equal(store.deliveredBelow, seq + 1, 'only the delivered mark, once per turn');
});

t.test('delete by receipt removes the message; a stale receipt is refused once redelivered', async (t) => {
  const { send, receive, actor, call, store } = setup({ visibilityMs: 10 });
  send('a', 0);
  const [first] = receive(0);
  actor.tick(10);
  const [second] = receive(10);
  const stale = call({ op: 'delete', args: { queue: 'q', receipt: first!.receipt } }, 11);
  t.match(stale, { error: { code: 'ReceiptHandleExpired', field: 'receipt' } });
  t.same(call({ op: 'delete', args: { queue: 'q', receipt: second!.receipt } }, 11), { result: { deleted: true } });
  t.equal(store.messages.size, 0, 'deleted from the store');
  t.same(call({ op: 'delete', args: { queue: 'q', receipt: second!.receipt } }, 12), { result: { deleted: false } }, 'a repeated ack is harmless');
  t.match(actor.stats(12), { visible: 0, leased: 0, delayed: 0, oldestAgeMs: 0, bytes: 0 });
});

t.test('a receipt whose lease ran out may still delete until the message is delivered again', async (t) => {
  const { send, receive, actor, call } = setup({ visibilityMs: 10 });
  send('a', 0);
  const [m] = receive(0);
  actor.tick(50);
  t.equal(actor.stats(50).visible, 1);
  t.same(call({ op: 'delete', args: { queue: 'q', receipt: m!.receipt } }, 50), { result: { deleted: true } });
  t.same(receive(51), [], 'the visible slot left behind is skipped');
  t.equal(actor.stats(51).visible, 0);
});

t.test('deleteBatch answers each receipt in order; a bad entry names its index and does not stop the rest', async (t) => {
  const { send, receive, actor, call } = setup({ visibilityMs: 10 });
  for (const b of ['a', 'b', 'c']) send(b, 0);
  const [a, b, c] = receive(0, { max: 3 });
  actor.tick(10);
  const [a2] = receive(10, { max: 1 }); // a delivered again: its first receipt is stale
  const r = decodeReceipt(c!.receipt)!;
  const receipts = [
    b!.receipt, a!.receipt, 'not-a-receipt', encodeReceipt({ ...r, qid: 'ffffffffffffffff' }), c!.receipt.slice(0, 31) + '=',
    c!.receipt.slice(0, 31) + 'é', c!.receipt, b!.receipt, encodeReceipt({ ...r, seq: 2 ** 53 - 1 }), a2!.receipt,
  ];
  const answer = call({ op: 'deleteBatch', args: { queue: 'q', receipts } }, 11);
  t.match(answer, {
    result: {
      results: [
        { ok: { deleted: true } },
        { error: { code: 'ReceiptHandleExpired', field: 'receipts.1' } },
        { error: { code: 'ReceiptHandleIsInvalid', field: 'receipts.2' } },
        { error: { code: 'ReceiptHandleIsInvalid', field: 'receipts.3' } },
        { error: { code: 'ReceiptHandleIsInvalid', field: 'receipts.4' } },
        { error: { code: 'ReceiptHandleIsInvalid', field: 'receipts.5' } },
        { ok: { deleted: true } },
        { ok: { deleted: false } },
        { error: { code: 'ReceiptHandleIsInvalid', field: 'receipts.8' } },
        { ok: { deleted: true } },
      ],
    },
  });
  t.match(actor.stats(11), { visible: 0, leased: 0, messages: 0 });
});

t.test('the messages of one delivery share a lease end; one moved by changeVisibility or deleted is not ended with them', async (t) => {
  const { send, receive, actor, call } = setup({ visibilityMs: 100 });
  for (const b of ['a', 'b', 'c', 'd']) send(b, 0);
  const [a, b, c] = receive(0, { max: 3 });
  t.equal(actor.nextDeadline(), 100, 'one lease end for the three');
  t.same(call({ op: 'changeVisibility', args: { queue: 'q', receipt: b!.receipt, visibilityMs: 400 } }, 10), { result: { visibleAt: 410 } });
  t.same(call({ op: 'delete', args: { queue: 'q', receipt: c!.receipt } }, 10), { result: { deleted: true } });
  const [d] = receive(50, { max: 1 });
  t.equal(d!.seq, 3);
  actor.tick(100);
  t.match(actor.stats(100), { visible: 1, leased: 2 }, 'a is visible again; b (moved) and d (a later delivery) stay leased');
  const [again] = receive(100, { max: 5 });
  t.same([again!.seq, again!.receiveCount], [a!.seq, 2]);
  actor.tick(150);
  t.match(actor.stats(150), { visible: 1, leased: 2 }, 'd\'s own lease ended at 150');
  actor.tick(410);
  t.match(actor.stats(410), { visible: 3, leased: 0 }, 'a\'s second lease ended at 200, b\'s at its moved end');
});

t.test('foreign and malformed receipts are invalid', async (t) => {
  const { send, receive, call } = setup();
  send('a', 0);
  const [m] = receive(0);
  const r = decodeReceipt(m!.receipt)!;
  const foreign = encodeReceipt({ ...r, qid: 'ffffffffffffffff' });
  t.match(call({ op: 'delete', args: { queue: 'q', receipt: foreign } }, 1), { error: { code: 'ReceiptHandleIsInvalid' } });
  t.match(call({ op: 'delete', args: { queue: 'q', receipt: 'not-a-receipt' } }, 1), { error: { code: 'ReceiptHandleIsInvalid' } });
  const future = encodeReceipt({ ...r, receiveCount: 9 });
  t.match(call({ op: 'delete', args: { queue: 'q', receipt: future } }, 1), { error: { code: 'ReceiptHandleIsInvalid' } });
  const neverSent = encodeReceipt({ ...r, seq: 1000 });
  t.match(call({ op: 'delete', args: { queue: 'q', receipt: neverSent } }, 1), { error: { code: 'ReceiptHandleIsInvalid' } });
});

t.test('changeVisibility extends or ends a lease; nack requeues with an optional delay', async (t) => {
  const { send, receive, actor, call } = setup({ visibilityMs: 100 });
  send('a', 0);
  const [m] = receive(0);
  t.same(call({ op: 'changeVisibility', args: { queue: 'q', receipt: m!.receipt, visibilityMs: 500 } }, 50), { result: { visibleAt: 550 } });
  actor.tick(100);
  t.same(receive(100), [], 'the extended lease holds past the first deadline');
  actor.tick(550);
  const [m2] = receive(550);
  t.equal(m2!.receiveCount, 2);
  t.same(call({ op: 'nack', args: { queue: 'q', receipt: m2!.receipt, delayMs: 200 } }, 560), { result: { visibleAt: 760 } });
  t.equal(actor.stats(560).delayed, 1);
  t.same(receive(600), []);
  actor.tick(760);
  const [m3] = receive(760);
  t.equal(m3!.receiveCount, 3);
  t.same(call({ op: 'nack', args: { queue: 'q', receipt: m3!.receipt } }, 761), { result: { visibleAt: 761 } });
  t.equal(receive(761)[0]!.receiveCount, 4, 'nack without delay makes it visible at once');
  t.match(call({ op: 'changeVisibility', args: { queue: 'q', receipt: m3!.receipt, visibilityMs: 1 } }, 762), { error: { code: 'ReceiptHandleExpired' } });
});

t.test('changeVisibility after the lease ended is refused', async (t) => {
  const { send, receive, actor, call } = setup({ visibilityMs: 10 });
  send('a', 0);
  const [m] = receive(0);
  actor.tick(20);
  t.match(call({ op: 'changeVisibility', args: { queue: 'q', receipt: m!.receipt, visibilityMs: 100 } }, 20), { error: { code: 'ReceiptHandleExpired' } });
});

t.test('delay: per queue and per message', async (t) => {
  const { send, receive, actor } = setup({ delayMs: 100 });
  send('queue-delay', 0);
  send('msg-delay', 0, { delayMs: 300 });
  send('no-delay', 0, { delayMs: 0 });
  t.same(receive(0, { max: 10 }).map((m) => Buffer.from(m.body).toString()), ['no-delay']);
  t.equal(actor.nextDeadline(), 100);
  actor.tick(100);
  t.same(receive(100, { max: 10 }).map((m) => Buffer.from(m.body).toString()), ['queue-delay']);
  actor.tick(300);
  t.same(receive(300, { max: 10 }).map((m) => Buffer.from(m.body).toString()), ['msg-delay']);
});

t.test('body limits are the queue\'s own', async (t) => {
  const { call } = setup({ maxMessageBytes: 4 });
  t.match(call({ op: 'send', args: { queue: 'q', body: Buffer.from('12345') } }, 0), { error: { code: 'BodyTooLarge', field: 'body' } });
  t.match(call({ op: 'send', args: { queue: 'q', body: Buffer.alloc(0) } }, 0), { error: { code: 'EmptyBody' } });
  const batch = call({ op: 'sendBatch', args: { queue: 'q', entries: [{ body: Buffer.from('ok') }, { body: Buffer.from('too long') }] } }, 0);
  t.match(batch, { result: { results: [{ ok: { seq: 0 } }, { error: { code: 'BodyTooLarge', field: 'entries.1.body' } }] } }, 'batch entries fail one by one');
});

t.test('long poll: answered when a message arrives, or empty at its deadline', async (t) => {
  const { actor, out, send } = setup();
  actor.handle({ op: 'receive', ref: 100, session: 1, args: { queue: 'q', waitMs: 1000 } }, 0);
  actor.endTurn(0);
  t.notOk(out.answers.has(100), 'waits');
  t.equal(actor.nextDeadline(), 1000);
  send('x', 10);
  t.match(out.answers.get(100), { result: { messages: [{ receiveCount: 1 }] } });
  actor.handle({ op: 'receive', ref: 101, session: 1, args: { queue: 'q', waitMs: 500 } }, 20);
  actor.endTurn(20);
  actor.tick(519);
  t.notOk(out.answers.has(101));
  actor.tick(520);
  t.same(out.answers.get(101), { result: { messages: [] } });
});

t.test('push subscription never exceeds its credit; closing the session releases its leases at once', async (t) => {
  const { actor, out, call, send, receive } = setup();
  t.same(call({ op: 'subscribe', session: 7, sub: 1, args: { queue: 'q', credit: 3 } } as never, 0), { result: { sub: 1 } });
  for (let i = 0; i < 10; i++) send(`m${i}`, 1);
  t.equal(out.pushes.reduce((n, p) => n + p.messages.length, 0), 3, 'exactly the credit granted');
  t.same(call({ op: 'credit', session: 7, args: { sub: 1, credit: 2 } }, 2), { result: { credit: 2 } });
  t.equal(out.pushes.reduce((n, p) => n + p.messages.length, 0), 5);
  t.match(actor.stats(2), { visible: 5, leased: 5, delayed: 0, oldestAgeMs: 1, bytes: 20 });
  actor.closeSession(7, 3);
  t.equal(actor.stats(3).leased, 0, 'leases released without waiting for the visibility timeout');
  t.equal(receive(3, { max: 100 }).length, 10, 'all ten are deliverable again');
  t.match(call({ op: 'credit', session: 7, args: { sub: 1, credit: 1 } }, 4), { error: { code: 'UnknownSubscription' } });
});

t.test('pushes are shared among subscribers', async (t) => {
  const { out, call, send } = setup();
  call({ op: 'subscribe', session: 1, sub: 1, args: { queue: 'q', credit: 100 } } as never, 0);
  call({ op: 'subscribe', session: 2, sub: 1, args: { queue: 'q', credit: 100 } } as never, 0);
  const now = 1;
  for (let i = 0; i < 10; i++) out.reply(0, null), send(`m${i}`, now);
  const bySession = new Map<number, number>();
  for (const p of out.pushes) bySession.set(p.session, (bySession.get(p.session) ?? 0) + p.messages.length);
  t.equal((bySession.get(1) ?? 0) + (bySession.get(2) ?? 0), 10);
  t.ok((bySession.get(1) ?? 0) > 0 && (bySession.get(2) ?? 0) > 0, 'both subscribers get some');
});

t.test('unsubscribe keeps leases until they are deleted or expire', async (t) => {
  const { actor, out, call, send } = setup({ visibilityMs: 100 });
  call({ op: 'subscribe', session: 1, sub: 1, args: { queue: 'q', credit: 1 } } as never, 0);
  send('a', 0);
  const receipt = out.pushes[0]!.messages[0]!.receipt;
  t.same(call({ op: 'unsubscribe', session: 1, args: { sub: 1 } }, 1), { result: { unsubscribed: true } });
  t.equal(actor.stats(1).leased, 1);
  t.same(call({ op: 'delete', args: { queue: 'q', receipt } }, 2), { result: { deleted: true } });
});

t.test('purge drops everything and stale receipts do not resurrect it', async (t) => {
  const { send, receive, call, actor, store } = setup();
  send('a', 0);
  send('b', 0);
  const [m] = receive(0);
  t.same(call({ op: 'purgeQueue' }, 1), { result: { purged: 2 } });
  t.match(actor.stats(1), { visible: 0, leased: 0, delayed: 0, oldestAgeMs: 0, bytes: 0 });
  t.same(call({ op: 'delete', args: { queue: 'q', receipt: m!.receipt } }, 2), { result: { deleted: false } });
  t.equal(store.clearedBelow, 2);
  const { seq } = send('c', 3);
  t.equal(seq, 2, 'sequence numbers are never reused');
});

t.test('createQueue again: equal attributes are fine, different ones are refused', async (t) => {
  const { call } = setup({ visibilityMs: 5000 });
  t.match(call({ op: 'createQueue', args: { queue: 'q', attributes: { visibilityMs: 5000 } } }, 0), { result: { created: false } });
  t.match(call({ op: 'createQueue', args: { queue: 'q', attributes: { visibilityMs: 10 } } }, 0), { error: { code: 'QueueAlreadyExists', field: 'attributes.visibilityMs' } });
});

t.test('deleteQueue ends subscriptions and answers waiting receivers', async (t) => {
  const { actor, out, call, store } = setup();
  call({ op: 'subscribe', session: 1, sub: 4, args: { queue: 'q', credit: 1 } } as never, 0);
  actor.handle({ op: 'receive', ref: 500, session: 2, args: { queue: 'q', waitMs: 1000 } }, 0);
  t.same(call({ op: 'deleteQueue' }, 1), { result: { deleted: true } });
  t.match(out.ends, [{ session: 1, sub: 4, error: { code: 'QueueDoesNotExist' } }]);
  t.match(out.answers.get(500), { error: { code: 'QueueDoesNotExist' } });
  t.ok(store.removed);
  t.match(call({ op: 'send', args: { queue: 'q', body: Buffer.from('x') } }, 2), { error: { code: 'QueueDoesNotExist' } });
});

t.test('bodies past the cache budget are read from the store on delivery', async (t) => {
  const { send, receive } = setup({}, 4);
  send('abcd', 0);
  send('efgh', 0);
  t.same(receive(0, { max: 2 }).map((m) => Buffer.from(m.body).toString()), ['abcd', 'efgh']);
});

t.test('restore rebuilds state: leased messages come back visible, delays resume', async (t) => {
  const { actor, receive } = setup();
  actor.restore({ seq: 3, id: 'a', sentAt: 0, visibleAt: 0, size: 1, body: Buffer.from('a'), delivery: { receiveCount: 2, firstReceivedAt: 5 } }, 100);
  actor.restore({ seq: 4, id: 'b', sentAt: 0, visibleAt: 500, size: 1, body: undefined, delivery: undefined }, 100);
  const [m] = receive(100, { max: 10 });
  t.equal(m!.seq, 3);
  t.equal(m!.receiveCount, 3, 'the persisted count continues');
  t.match(actor.stats(100).delayed, 1);
});

t.test('a million leases cost one heap, not a million timers', async (t) => {
  const { send, receive, actor } = setup({ visibilityMs: 1000 }, 0);
  const n = 100_000;
  for (let i = 0; i < n; i++) send('x', i % 1000);
  t.equal(receive(1000, { max: 1000 }).length, 1000);
  let got = 1000;
  while (got < n) got += receive(1000, { max: 1000 }).length;
  t.equal(actor.stats(1000).leased, n);
  t.equal(actor.nextDeadline(), 2000);
  actor.tick(2000);
  t.equal(actor.stats(2000).visible, n, 'all leases expired in one tick');
});

t.test('big bodies: a receive stops taking at Limits.maxDeliveryBytes', async (t) => {
  const MiB = 1024 * 1024;
  const { send, receive } = setup({ maxMessageBytes: MiB }, 0);
  for (let i = 0; i < 20; i++) send('x'.repeat(MiB), 0);
  const perAnswer = Limits.maxDeliveryBytes / MiB;
  t.equal(receive(0, { max: 1000 }).length, perAnswer, 'a receive of max 1000 gets what fits its byte budget');
  t.equal(receive(0, { max: 1000 }).length, perAnswer);
  t.equal(receive(0, { max: 1000 }).length, 20 - 2 * perAnswer, 'the rest on the next call');
  t.equal(receive(0, { max: 1000 }).length, 0);
});

t.test('big bodies: a push stops at the budget, and the rest follows in the same turn', async (t) => {
  const MiB = 1024 * 1024;
  const { send, call, out } = setup({ maxMessageBytes: MiB }, 0);
  for (let i = 0; i < 20; i++) send('y'.repeat(MiB), 0);
  call({ op: 'subscribe', session: 3, sub: 1, args: { queue: 'q', credit: 100 } } as never, 0);
  const pushes = out.pushes.filter((p) => p.session === 3).map((p) => p.messages.length);
  t.equal(pushes.reduce((a, b) => a + b, 0), 20, 'all twenty pushed in the subscribe turn');
  t.ok(pushes.every((n) => n <= Limits.maxDeliveryBytes / MiB), `no push over the budget (${pushes.join(', ')})`);
});

t.test('small messages: the byte budget changes nothing', async (t) => {
  const { send, receive } = setup();
  for (let i = 0; i < 1000; i++) send('small', 0);
  t.equal(receive(0, { max: 1000 }).length, 1000);
});

t.test('receive counts across a restart: stored per delivery with a dead-letter queue, counted by the delivered mark without', async (t) => {
  const plain = actorHarness({ visibilityMs: 100 });
  plain.send('a', 0);
  plain.receive(0);
  plain.tick(100);
  const [again] = plain.receive(100);
  t.same([text(again!), again!.receiveCount], ['a', 2]);
  const b = plain.send('b', 100);
  plain.receive(100, { max: 1 }); // 'b', once
  plain.send('c', 100);
  t.same([plain.store.deliveries.size, plain.store.deliveredBelow], [0, b.seq + 1], 'no delivery records, the mark past b (it runs ahead only over sequences in use: c came later)');
  plain.restart(200);
  const after = plain.receive(200, { max: 10 });
  t.same(after.map((m) => [text(m), m.receiveCount]), [['a', 2], ['b', 2], ['c', 1]],
    'below the mark an earlier delivery counts once, however many there were (a had two); c, above it, none');
  t.ok(after.every((m) => m.firstReceivedAt === 200 || text(m) === 'c'), 'first receive time of a counted delivery is the first one after the restart');

  const dlq = actorHarness({}, { name: 'dlq' });
  const counted = actorHarness({ visibilityMs: 100, deadLetter: { queue: dlq.name, maxReceives: 3 } });
  counted.send('x', 0);
  counted.receive(0);
  counted.tick(100);
  counted.receive(100);
  t.same([...counted.store.deliveries.values()], [{ receiveCount: 2, firstReceivedAt: 0 }], 'maxReceives needs the exact count: stored with the lease');
  counted.restart(150);
  const [x] = counted.receive(150);
  t.equal(x!.receiveCount, 3, 'the stored count continues');
  t.same(counted.del(x!.receipt, 151), { result: { deleted: true } });
  t.same([counted.store.messages.size, counted.store.deliveries.size], [0, 0], 'an ack deletes the message and its delivery record');
});

t.test('the delivered mark is written ahead of the deliveries: a crash may over-count the next in line, never under-count', async (t) => {
  const h = actorHarness({ visibilityMs: 100 });
  const n = 5000;
  for (let i = 0; i < n; i += 500) h.ok(h.call({ op: 'sendBatch', args: { queue: h.name, entries: Array.from({ length: 500 }, (_, k) => ({ body: Buffer.from(`m${i + k}`) })) } }, 0));
  h.receive(0, { max: 1 });
  // 4,096 beyond the delivery (queue-actor.ts DELIVERED_MARK_AHEAD): a mark on disk before the
  // next pushes lets them leave without waiting for their own turn's fsync.
  t.equal(h.store.deliveredBelow, 4097, 'the mark runs ahead of the one delivery');
  h.restart(200);
  const after = h.receive(200, { max: n });
  const counts = new Map(after.map((m) => [text(m), m.receiveCount]));
  t.equal(counts.get('m0'), 2, 'the delivered message counts its delivery');
  t.equal(counts.get('m4096'), 2, 'one that was next in line, below the mark, counts one it may have had');
  t.equal(counts.get('m4097'), 1, 'above the mark: none');
  h.ok(h.call({ op: 'deleteBatch', args: { queue: h.name, receipts: after.slice(0, 10).map((m) => m.receipt) } }, 201));
  t.equal(h.store.deliveredBelow, n, 'deliveries past half the distance move the mark on, up to the sequences in use');
});

t.test('a dead-letter queue set later stores the counts taken so far', async (t) => {
  const dlq = actorHarness({}, { name: 'dlq2' });
  const h = actorHarness({ visibilityMs: 100 });
  h.send('x', 0);
  h.receive(0);
  t.equal(h.store.deliveries.size, 0);
  h.ok(h.call({ op: 'setQueueAttributes', args: { queue: h.name, attributes: { deadLetter: { queue: dlq.name, maxReceives: 2 } } } }, 1));
  t.same([...h.store.deliveries.values()], [{ receiveCount: 1, firstReceivedAt: 0 }]);
});

t.test('a receipt of an earlier run of the actor is expired, even where the counts match again', async (t) => {
  const h = actorHarness({ visibilityMs: 100 });
  h.send('a', 0);
  const [before] = h.receive(0);
  h.restart(10);
  const [after] = h.receive(10);
  t.equal(after!.receiveCount, 2);
  t.match(h.del(before!.receipt, 11), { error: { code: 'ReceiptHandleExpired', field: 'receipt' } }, 'the old run\'s receipt');
  t.same(h.del(after!.receipt, 11), { result: { deleted: true } }, 'this run\'s receipt');
  t.same(h.del(before!.receipt, 12), { result: { deleted: false } }, 'once the message is gone, an old receipt is a harmless repeat');
});

t.test('sends stage no high-water mark; removing the newest message does, so no sequence is used twice across a restart', async (t) => {
  const h = actorHarness();
  let marks = 0;
  const put = h.store.putNextSeq.bind(h.store);
  h.store.putNextSeq = (n, d, g) => {
    marks++;
    put(n, d, g);
  };
  for (let i = 0; i < 5; i++) h.send(`m${i}`, 10);
  h.ok(h.call({ op: 'sendBatch', args: { queue: h.name, entries: [{ body: Buffer.from('b0') }, { body: Buffer.from('b1') }] } }, 10));
  t.equal(marks, 0, 'sends alone: the stored messages carry the high-water mark');
  const got = h.receive(20, { max: 10, visibilityMs: 60_000 });
  t.equal(got.length, 7);
  t.equal(marks, 1, 'the delivered mark moved: staged once for the turn');
  for (const m of got) h.ok(h.call({ op: 'delete', args: { queue: h.name, receipt: m.receipt } }, 30));
  t.ok(marks >= 2, 'deletes stage the mark');
  t.equal(h.store.messages.size, 0, 'nothing stored');
  h.restart(40);
  const after = h.send('after', 50);
  t.equal(after.seq, 7, 'the sequence continues above every message ever sent');
  t.notOk(got.some((m) => m.messageId === after.messageId), 'and so does the message id');
});
