// Every queue operation over the wire, through the client SDK, against a real broker process
// (real sockets, real shard workers, real RocksDB). One broker for the file; each test uses its own
// queues. Grouped by operation, as in docs/protocol.md.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { connect, ErrorCodes, type FerryClient } from '../src/client/index.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString();

const broker = await startBroker(t);
const client: FerryClient = await connect(broker.url, { reconnect: false });
t.teardown(() => client.close());

t.test('createQueue', async (t) => {
  const first = await client.createQueue('ops-create', { visibilityMs: 5000 });
  t.equal(first.created, true);
  t.equal(first.queue, 'ops-create');
  t.match(first.attributes, { visibilityMs: 5000, maxMessageBytes: 256 * 1024, receiveWaitMs: 0, delayMs: 0 }, 'defaults fill the rest');

  const again = await client.createQueue('ops-create', { visibilityMs: 5000 });
  t.equal(again.created, false, 'idempotent for equal attributes');
  t.same(again.attributes, first.attributes);
  t.equal((await client.createQueue('ops-create')).created, false, 'no attributes given: nothing differs');

  await t.rejects(client.createQueue('ops-create', { visibilityMs: 6000 }), {
    code: ErrorCodes.QueueAlreadyExists, field: 'attributes.visibilityMs',
  }, 'different attributes: QueueAlreadyExists naming the attribute');

  const fifo = await client.createQueue('ops-create.fifo');
  t.equal(fifo.created, true, 'a .fifo suffix is allowed');

  // Many creates of one name at once: exactly one creates it, the others find it.
  const racing = await Promise.all(Array.from({ length: 8 }, () => client.createQueue('ops-create-race')));
  t.equal(racing.filter((r) => r.created).length, 1, 'concurrent creates: one created');
});

t.test('deleteQueue', async (t) => {
  await client.createQueue('ops-delete');
  const q = client.queue('ops-delete');
  await q.send('doomed');
  const [old] = await q.receive();
  await client.deleteQueue('ops-delete');
  await t.rejects(client.getQueueAttributes('ops-delete'), { code: ErrorCodes.QueueDoesNotExist, field: 'queue' });
  await t.rejects(q.send('x'), { code: ErrorCodes.QueueDoesNotExist, field: 'queue' });
  await t.rejects(client.deleteQueue('ops-delete'), { code: ErrorCodes.QueueDoesNotExist }, 'deleting twice');
  t.notOk((await client.listQueues({ prefix: 'ops-delete' })).queues.includes('ops-delete'), 'gone from the list');

  const again = await client.createQueue('ops-delete');
  t.equal(again.created, true, 'the name can be used again');
  t.same(await q.receive(), [], 'the new queue is empty');
  await t.rejects(q.delete(old!.receipt), { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipt' },
    'a receipt of the deleted incarnation is not valid for the new one');
});

t.test('deleteQueue and createQueue pipelined (sent together, no wait between)', async (t) => {
  await client.createQueue('ops-recreate', { visibilityMs: 1000 });
  await client.queue('ops-recreate').send('old');
  const [deleted, created] = await Promise.all([
    client.deleteQueue('ops-recreate'),
    client.createQueue('ops-recreate', { visibilityMs: 2000 }),
  ]);
  t.equal(deleted, undefined);
  t.match(created, { created: true, attributes: { visibilityMs: 2000 } }, 'the create made a new queue');
  t.same(await client.queue('ops-recreate').receive({ max: 10 }), [], 'empty: the old message went with the old queue');
});

t.test('listQueues: prefix and paging', async (t) => {
  const names = Array.from({ length: 7 }, (_, i) => `ops-ls-a${i}`);
  await Promise.all([...names, 'ops-ls-b0', 'ops-lsx'].map((n) => client.createQueue(n)));

  const all = await client.listQueues({ prefix: 'ops-ls-a' });
  t.same(all.queues, names, 'prefix filters and names come sorted');
  t.equal(all.next, undefined, 'one page: no next');

  const pages: string[][] = [];
  let after: string | undefined;
  for (let i = 0; i < 10; i++) {
    const page = await client.listQueues(after === undefined ? { prefix: 'ops-ls-a', limit: 3 } : { prefix: 'ops-ls-a', limit: 3, after });
    pages.push(page.queues);
    after = page.next;
    if (after === undefined) break;
  }
  t.same(pages, [names.slice(0, 3), names.slice(3, 6), names.slice(6)], 'limit/after/next walk every name once');

  const iterated: string[] = [];
  for await (const n of client.iterateQueues({ prefix: 'ops-ls-', pageSize: 2 })) iterated.push(n);
  t.same(iterated, [...names, 'ops-ls-b0']);

  t.same((await client.listQueues({ prefix: 'ops-ls-nothing' })).queues, []);
  await t.rejects(client.listQueues({ limit: 0 }), { code: ErrorCodes.ValueOutOfRange, field: 'limit' });
});

t.test('getQueueAttributes: visible, leased, delayed, oldest age, bytes', async (t) => {
  await client.createQueue('ops-stats', { visibilityMs: 60_000 });
  const q = client.queue('ops-stats');
  const empty = await q.attributes();
  t.match(empty.stats, { visible: 0, leased: 0, delayed: 0, oldestAgeMs: 0, bytes: 0 });
  t.equal(empty.queue, 'ops-stats');
  t.type(empty.createdAt, 'number');

  await q.sendBatch(['a1', 'b22', 'c333']);
  await q.send('delayed-1', { delayMs: 60_000 });
  await q.send('delayed-2', { delayMs: 60_000 });
  const got = await q.receive({ max: 1 });
  t.equal(got.length, 1);
  const s = (await q.attributes()).stats;
  t.match(s, { visible: 2, leased: 1, delayed: 2, bytes: 2 + 3 + 4 + 9 + 9 });
  // The oldest message's age grows with the clock (polled, bounded).
  const deadline = Date.now() + 5000;
  let age = 0;
  while (Date.now() < deadline && age < 100) {
    await new Promise((r) => setTimeout(r, 20));
    age = (await q.attributes()).stats.oldestAgeMs;
  }
  t.ok(age >= 100, `oldestAgeMs grows (${age})`);
});

t.test('setQueueAttributes', async (t) => {
  await client.createQueue('ops-set');
  const attrs = await client.setQueueAttributes('ops-set', { visibilityMs: 200, receiveWaitMs: 1000 });
  t.match(attrs, { visibilityMs: 200, receiveWaitMs: 1000, maxMessageBytes: 256 * 1024, delayMs: 0 });
  t.match((await client.getQueueAttributes('ops-set')).attributes, { visibilityMs: 200, receiveWaitMs: 1000 });
  t.equal((await client.createQueue('ops-set', { visibilityMs: 200 })).created, false, 'create with the new values is idempotent');

  // The new default visibility applies: a receive without visibilityMs gets a 200 ms lease.
  const q = client.queue('ops-set');
  await q.send('short lease');
  const [first] = await q.receive();
  const [again] = await q.receive({ waitMs: 5000 });
  t.equal(again?.messageId, first?.messageId, 'redelivered after the queue default lease');
  t.equal(again?.receiveCount, 2);

  await t.rejects(client.setQueueAttributes('ops-set', { visibilityMs: -1 }), { code: ErrorCodes.ValueOutOfRange, field: 'attributes.visibilityMs' });
  await t.rejects(client.setQueueAttributes('ops-set', { bogus: 1 } as never), { code: ErrorCodes.InvalidAttribute, field: 'attributes.bogus' });
  await t.rejects(client.setQueueAttributes('ops-missing', { visibilityMs: 1 }), { code: ErrorCodes.QueueDoesNotExist });
});

t.test('purgeQueue', async (t) => {
  await client.createQueue('ops-purge');
  const q = client.queue('ops-purge');
  await q.sendBatch(['1', '2', '3', '4']);
  await q.send('later', { delayMs: 60_000 });
  const [leased] = await q.receive();
  t.equal(await client.purgeQueue('ops-purge'), 5, 'every message counts: visible, leased, delayed');
  t.match((await q.attributes()).stats, { visible: 0, leased: 0, delayed: 0, bytes: 0 });
  t.same(await q.receive({ max: 10 }), []);
  t.equal(await q.delete(leased!.receipt), false, 'deleting a purged message is a no-op');
  await q.send('after purge');
  t.same((await q.receive()).map((m) => text(m.body)), ['after purge'], 'the queue works after a purge');
  t.equal(await client.purgeQueue('ops-purge'), 1, 'a purge removes leased messages too');
});

t.test('send', async (t) => {
  await client.createQueue('ops-send');
  const q = client.queue('ops-send');
  const a = await q.send('hello', { attributes: { kind: 'greeting' } });
  const b = await q.send(new Uint8Array([0, 1, 2, 255]));
  t.type(a.messageId, 'string');
  t.not(a.messageId, b.messageId);
  t.ok(b.seq > a.seq, 'sequence numbers grow');
  const got = await q.receive({ max: 10 });
  t.equal(got.length, 2);
  t.equal(text(got[0]!.body), 'hello');
  t.same(got[0]!.attributes, { kind: 'greeting' }, 'attributes round-trip');
  t.same([...got[1]!.body], [0, 1, 2, 255], 'binary body round-trips');
  t.match(got[0], { messageId: a.messageId, seq: a.seq, receiveCount: 1 });
  t.ok(got[0]!.sentAt <= got[0]!.firstReceivedAt, 'sentAt ≤ firstReceivedAt');

  await q.send('delayed', { delayMs: 1500 });
  t.same(await q.receive(), [], 'a delayed message is not visible at once');
  t.equal((await q.attributes()).stats.delayed, 1);
  const [late] = await q.receive({ waitMs: 5000 });
  t.equal(late && text(late.body), 'delayed', 'visible once its delay is over');
});

t.test('sendBatch: per-entry results', async (t) => {
  await client.createQueue('ops-batch', { maxMessageBytes: 10 });
  const q = client.queue('ops-batch');
  const results = await q.sendBatch(['short', 'this body is too long', { body: 'later', delayMs: 60_000 }, 'ok']);
  t.equal(results.length, 4);
  t.ok('ok' in results[0]! && 'ok' in results[2]! && 'ok' in results[3]!, 'valid entries are accepted');
  t.match(results[1], { error: { code: ErrorCodes.BodyTooLarge, field: 'entries.1.body' } }, "an entry over the queue's limit fails alone");
  const got = await q.receive({ max: 10 });
  t.same(got.map((m) => text(m.body)), ['short', 'ok'], 'order kept; the delayed one waits');
  t.equal((await q.attributes()).stats.delayed, 1);
});

t.test('receive: max, visibility timeout, redelivery with receiveCount', async (t) => {
  await client.createQueue('ops-receive');
  const q = client.queue('ops-receive');
  await q.sendBatch(['m0', 'm1', 'm2', 'm3', 'm4']);
  const three = await q.receive({ max: 3, visibilityMs: 60_000 });
  t.same(three.map((m) => text(m.body)), ['m0', 'm1', 'm2'], 'max 3, in order');
  const rest = await q.receive({ max: 10, visibilityMs: 1500 });
  t.same(rest.map((m) => text(m.body)), ['m3', 'm4'], 'what is left');
  t.same(await q.receive({ max: 10 }), [], 'everything leased');

  // The 1.5 s leases expire: the same messages come again, their receive count bumped.
  const again: string[] = [];
  const deadline = Date.now() + 10_000;
  while (again.length < 2 && Date.now() < deadline) {
    for (const m of await q.receive({ max: 10, waitMs: 1000, visibilityMs: 60_000 })) {
      t.equal(m.receiveCount, 2, `${text(m.body)} delivered a second time`);
      t.equal(m.messageId, rest.find((r) => text(r.body) === text(m.body))!.messageId, 'same message id');
      t.equal(m.firstReceivedAt, rest.find((r) => text(r.body) === text(m.body))!.firstReceivedAt, 'firstReceivedAt kept');
      again.push(text(m.body));
    }
  }
  t.same(again.sort(), ['m3', 'm4'], 'expired leases are redelivered');

  // A receipt of the earlier delivery is refused once the message was delivered again.
  await t.rejects(q.delete(rest[0]!.receipt), { code: ErrorCodes.ReceiptHandleExpired, field: 'receipt' });
  await t.rejects(q.changeVisibility(rest[0]!.receipt, 1000), { code: ErrorCodes.ReceiptHandleExpired, field: 'receipt' });
  await t.rejects(q.nack(rest[0]!.receipt), { code: ErrorCodes.ReceiptHandleExpired, field: 'receipt' });
  t.match((await q.attributes()).stats, { leased: 5, visible: 0 }, 'stale receipts changed nothing');
});

t.test('delete and deleteBatch by receipt', async (t) => {
  await client.createQueue('ops-del');
  const q = client.queue('ops-del');
  await q.sendBatch(['a', 'b', 'c', 'd']);
  const got = await q.receive({ max: 4 });
  t.equal(await q.delete(got[0]!.receipt), true);
  t.equal(await q.delete(got[0]!.receipt), false, 'deleting again is not an error (acks may repeat)');
  const results = await q.deleteBatch([got[1]!.receipt, 'not-a-receipt', got[2]!.receipt, got[1]!.receipt]);
  t.match(results, [
    { ok: { deleted: true } },
    { error: { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipts.1' } },
    { ok: { deleted: true } },
    { ok: { deleted: false } },
  ], 'one result per receipt');
  t.match((await q.attributes()).stats, { visible: 0, leased: 1, delayed: 0 }, 'only d is left');
  await q.nack(got[3]!.receipt);
  const [d] = await q.receive();
  t.equal(d && text(d.body), 'd');
});

t.test('changeVisibility', async (t) => {
  await client.createQueue('ops-vis');
  const q = client.queue('ops-vis');
  await q.send('x');
  const [m] = await q.receive({ visibilityMs: 1500 });
  const before = Date.now();
  const visibleAt = await q.changeVisibility(m!.receipt, 60_000);
  t.ok(visibleAt >= before + 59_000, 'the lease now ends in a minute');
  // Past the original 1.5 s, the message stays leased.
  await new Promise((r) => setTimeout(r, 2000));
  t.same(await q.receive(), [], 'still leased after its first lease would have ended');
  t.match((await q.attributes()).stats, { leased: 1, visible: 0 });

  await q.changeVisibility(m!.receipt, 0);
  const [back] = await q.receive();
  t.equal(back?.messageId, m!.messageId, 'visibility 0 makes it visible at once');
  t.equal(back?.receiveCount, 2);
  await t.rejects(q.changeVisibility(m!.receipt, 1000), { code: ErrorCodes.ReceiptHandleExpired }, 'the old receipt is stale');
  await q.delete(back!.receipt);
  await t.rejects(q.changeVisibility(back!.receipt, 1000), { code: ErrorCodes.ReceiptHandleExpired }, 'a deleted message has no lease to change');
});

t.test('nack with and without delay', async (t) => {
  await client.createQueue('ops-nack');
  const q = client.queue('ops-nack');
  await q.send('retry me');
  const [m1] = await q.receive({ visibilityMs: 60_000 });
  await q.nack(m1!.receipt);
  const [m2] = await q.receive({ visibilityMs: 60_000 });
  t.equal(m2?.messageId, m1!.messageId, 'nack: visible again at once');
  t.equal(m2?.receiveCount, 2);

  const before = Date.now();
  const visibleAt = await q.nack(m2!.receipt, 1500);
  t.ok(visibleAt >= before + 1500, 'nack with delay: visible after the delay');
  t.match((await q.attributes()).stats, { visible: 0, leased: 0, delayed: 1 });
  t.same(await q.receive(), [], 'not before its delay');
  const [m3] = await q.receive({ waitMs: 5000 });
  t.equal(m3?.messageId, m1!.messageId);
  t.equal(m3?.receiveCount, 3);
  await t.rejects(q.nack(m2!.receipt), { code: ErrorCodes.ReceiptHandleExpired });
});

t.test('another queue’s receipt is invalid here', async (t) => {
  await client.createQueue('ops-foreign-a');
  await client.createQueue('ops-foreign-b');
  await client.queue('ops-foreign-a').send('a');
  const [m] = await client.queue('ops-foreign-a').receive();
  await t.rejects(client.queue('ops-foreign-b').delete(m!.receipt), { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipt' });
  t.equal(await client.queue('ops-foreign-a').delete(m!.receipt), true, 'still valid on its own queue');
});
