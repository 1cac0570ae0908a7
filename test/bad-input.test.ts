// Bad input on the wire, over a raw WebSocket (binary CBOR through the protocol's codec): each bad
// frame gets its own stable error code and a message naming the field, and the SAME socket then
// serves a good request. Only a frame over the socket limit closes the socket (1009, with a
// reason), and nothing else is affected. Real broker process.
import t, { type Test } from 'tap';
import { startBroker } from './helpers/broker.js';
import { RawSocket, type RawReply } from './helpers/raw-socket.js';
import { encodeFrame } from '../src/protocol/codec.js';
import { ErrorCodes, type ErrorCode } from '../src/protocol/errors.js';
import { Limits } from '../src/protocol/limits.js';
import { encodeReceipt, decodeReceipt } from '../src/actors/receipt.js';
import type { DeliveredMessage } from '../src/protocol/ops.js';

const broker = await startBroker(t);
const s = await RawSocket.open(broker.url);
t.teardown(() => s.close());

await s.ok('createQueue', { queue: 'bi-ok' });
await s.ok('createQueue', { queue: 'bi-small', attributes: { maxMessageBytes: 100 } });
await s.ok('createQueue', { queue: 'bi-other' });
await s.ok('send', { queue: 'bi-other', body: 'theirs' });
const foreign = (await s.ok<{ messages: DeliveredMessage[] }>('receive', { queue: 'bi-other', visibilityMs: 600_000 })).messages[0]!;

let goodRequests = 0;
/** A good request on the same socket: proves it is still open and serving. */
async function stillServes(t: Test): Promise<void> {
  const r = await s.call('send', { queue: 'bi-ok', body: `good ${++goodRequests}` });
  t.ok(r.error === undefined && typeof (r.result as { messageId?: unknown }).messageId === 'string', 'the same socket still serves a good request');
  t.equal(s.closed, undefined, 'socket open');
}

interface Expect {
  code: ErrorCode;
  /** The field the error names; the message must mention it too. */
  field?: string;
  /** The reply cannot carry the request id (it could not be read). */
  nullId?: boolean;
}

function checkError(t: Test, reply: RawReply, want: Expect): void {
  t.ok(reply.error !== undefined, `an error reply (got ${JSON.stringify(reply.result ?? reply.error)?.slice(0, 200)})`);
  if (reply.error === undefined) return;
  t.equal(reply.error.code, want.code, 'error code');
  t.type(reply.error.message, 'string');
  t.ok(reply.error.message.length > 0, 'a message');
  if (want.field !== undefined) {
    t.equal(reply.error.field, want.field, 'names the field');
    const last = want.field.split('.').pop()!;
    t.ok(reply.error.message.includes(last), `the message mentions ${last}: ${reply.error.message}`);
  }
  t.notOk(reply.error.retryable, 'bad input is not retryable');
}

/** Sends raw bytes (or text) that have no readable id; the reply carries id null. */
async function sendUnreadable(t: Test, send: () => void, want: Expect): Promise<void> {
  send();
  checkError(t, await s.reply(null), want);
  await stillServes(t);
}

/** Sends one request frame and checks its error reply. */
async function badRequest(t: Test, op: unknown, args: unknown, want: Expect): Promise<RawReply> {
  const id = s.id();
  s.sendValue({ id, op, args });
  const reply = await s.reply(id);
  checkError(t, reply, want);
  await stillServes(t);
  return reply;
}

t.test('frames that are not requests', async (t) => {
  t.test('malformed CBOR', (t) => sendUnreadable(t, () => s.sendBytes(Buffer.from([0xa3, 0x62, 0x69])), { code: ErrorCodes.BadFrame, nullId: true }));
  t.test('a truncated request', (t) => sendUnreadable(t, () => s.sendBytes(encodeFrame({ id: 77, op: 'send', args: { queue: 'bi-ok', body: 'x' } }).subarray(0, -2)), { code: ErrorCodes.BadFrame }));
  t.test('two CBOR items in one message', (t) => sendUnreadable(t, () => s.sendBytes(Buffer.concat([encodeFrame(1), encodeFrame(2)])), { code: ErrorCodes.BadFrame }));
  t.test('an empty binary message', (t) => sendUnreadable(t, () => s.sendBytes(new Uint8Array(0)), { code: ErrorCodes.BadFrame }));
  t.test('CBOR nested a million deep', (t) => sendUnreadable(t, () => {
    const nested = Buffer.alloc(1_000_001, 0x81); // [[[[…0…]]]]: overflows a recursive decoder
    nested[1_000_000] = 0;
    s.sendBytes(nested);
  }, { code: ErrorCodes.BadFrame }));
  t.test('a text message', (t) => sendUnreadable(t, () => s.sendText('{"id":1,"op":"send"}'), { code: ErrorCodes.BadFrame }));
  t.test('not a map: a number', (t) => sendUnreadable(t, () => s.sendValue(42), { code: ErrorCodes.BadFrame }));
  t.test('not a map: a string', (t) => sendUnreadable(t, () => s.sendValue('send'), { code: ErrorCodes.BadFrame }));
  t.test('not a map: null', (t) => sendUnreadable(t, () => s.sendValue(null), { code: ErrorCodes.BadFrame }));
  t.test('not a map: a byte string', (t) => sendUnreadable(t, () => s.sendValue(new Uint8Array([1, 2])), { code: ErrorCodes.BadFrame }));
  t.test('missing id', (t) => sendUnreadable(t, () => s.sendValue({ op: 'send', args: {} }), { code: ErrorCodes.BadFrame, field: 'id' }));
  t.test('negative id', (t) => sendUnreadable(t, () => s.sendValue({ id: -1, op: 'send', args: {} }), { code: ErrorCodes.BadFrame, field: 'id' }));
  t.test('fractional id', (t) => sendUnreadable(t, () => s.sendValue({ id: 1.5, op: 'send', args: {} }), { code: ErrorCodes.BadFrame, field: 'id' }));
  t.test('string id', (t) => sendUnreadable(t, () => s.sendValue({ id: '1', op: 'send', args: {} }), { code: ErrorCodes.BadFrame, field: 'id' }));
  t.test('a reply-shaped frame (no op)', async (t) => {
    const id = s.id();
    s.sendValue({ id, result: { ok: true } });
    checkError(t, await s.reply(id), { code: ErrorCodes.MissingField, field: 'op' });
    await stillServes(t);
  });
  t.test('op of the wrong type', (t) => badRequest(t, 7, {}, { code: ErrorCodes.InvalidField, field: 'op' }));
  t.test('unknown op', (t) => badRequest(t, 'frobnicate', {}, { code: ErrorCodes.UnknownOp, field: 'op' }));
  t.test('an op name from Object.prototype', (t) => badRequest(t, 'toString', {}, { code: ErrorCodes.UnknownOp, field: 'op' }));
  t.test('args not a map', (t) => badRequest(t, 'send', [1, 2], { code: ErrorCodes.InvalidField, field: 'args' }));

  t.test('one bad frame among good ones in one message: each answered on its own', async (t) => {
    const [a, b, c] = [s.id(), s.id(), s.id()];
    s.sendValue([
      { id: a, op: 'send', args: { queue: 'bi-ok', body: 'batched good 1' } },
      { id: b, op: 'nope', args: {} },
      { id: c, op: 'send', args: { queue: 'bi-ok', body: 'batched good 2' } },
    ]);
    const [ra, rb, rc] = await Promise.all([s.reply(a), s.reply(b), s.reply(c)]);
    t.ok(ra.result !== undefined && rc.result !== undefined, 'the good ones succeed');
    checkError(t, rb, { code: ErrorCodes.UnknownOp, field: 'op' });
  });
  t.end();
});

t.test('missing and wrongly typed fields', async (t) => {
  const cases: Array<[string, string, Record<string, unknown>, Expect]> = [
    ['send without queue', 'send', { body: 'x' }, { code: ErrorCodes.MissingField, field: 'queue' }],
    ['send without body', 'send', { queue: 'bi-ok' }, { code: ErrorCodes.MissingField, field: 'body' }],
    ['send with a null body', 'send', { queue: 'bi-ok', body: null }, { code: ErrorCodes.MissingField, field: 'body' }],
    ['queue of the wrong type', 'send', { queue: 5, body: 'x' }, { code: ErrorCodes.InvalidField, field: 'queue' }],
    ['body of the wrong type', 'send', { queue: 'bi-ok', body: 5 }, { code: ErrorCodes.InvalidField, field: 'body' }],
    ['body as a map', 'send', { queue: 'bi-ok', body: { a: 1 } }, { code: ErrorCodes.InvalidField, field: 'body' }],
    ['message attributes not a map', 'send', { queue: 'bi-ok', body: 'x', attributes: 'k=v' }, { code: ErrorCodes.InvalidField, field: 'attributes' }],
    ['message attribute value not a string', 'send', { queue: 'bi-ok', body: 'x', attributes: { k: 1 } }, { code: ErrorCodes.InvalidField, field: 'attributes.k' }],
    ['too many message attributes', 'send', { queue: 'bi-ok', body: 'x', attributes: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) }, { code: ErrorCodes.ValueOutOfRange, field: 'attributes' }],
    ['delayMs of the wrong type', 'send', { queue: 'bi-ok', body: 'x', delayMs: '10' }, { code: ErrorCodes.InvalidField, field: 'delayMs' }],
    ['max not an integer', 'receive', { queue: 'bi-ok', max: 1.5 }, { code: ErrorCodes.InvalidField, field: 'max' }],
    ['max a string', 'receive', { queue: 'bi-ok', max: 'ten' }, { code: ErrorCodes.InvalidField, field: 'max' }],
    ['delete without receipt', 'delete', { queue: 'bi-ok' }, { code: ErrorCodes.MissingField, field: 'receipt' }],
    ['receipt of the wrong type', 'delete', { queue: 'bi-ok', receipt: 12 }, { code: ErrorCodes.InvalidField, field: 'receipt' }],
    ['deleteBatch without receipts', 'deleteBatch', { queue: 'bi-ok' }, { code: ErrorCodes.MissingField, field: 'receipts' }],
    ['receipts not a list', 'deleteBatch', { queue: 'bi-ok', receipts: 'abc' }, { code: ErrorCodes.InvalidField, field: 'receipts' }],
    ['a receipt in the list not a string', 'deleteBatch', { queue: 'bi-ok', receipts: ['x', 3] }, { code: ErrorCodes.InvalidField, field: 'receipts.1' }],
    ['sendBatch without entries', 'sendBatch', { queue: 'bi-ok' }, { code: ErrorCodes.MissingField, field: 'entries' }],
    ['an entry that is not a map', 'sendBatch', { queue: 'bi-ok', entries: [{ body: 'a' }, 'b'] }, { code: ErrorCodes.InvalidField, field: 'entries.1' }],
    ['an entry without body', 'sendBatch', { queue: 'bi-ok', entries: [{ body: 'a' }, {}] }, { code: ErrorCodes.MissingField, field: 'entries.1.body' }],
    ['changeVisibility without visibilityMs', 'changeVisibility', { queue: 'bi-ok', receipt: foreign.receipt }, { code: ErrorCodes.MissingField, field: 'visibilityMs' }],
    ['subscribe without credit', 'subscribe', { queue: 'bi-ok' }, { code: ErrorCodes.MissingField, field: 'credit' }],
    ['credit without sub', 'credit', { credit: 1 }, { code: ErrorCodes.MissingField, field: 'sub' }],
    ['sub of the wrong type', 'unsubscribe', { sub: 'one' }, { code: ErrorCodes.InvalidField, field: 'sub' }],
    ['setQueueAttributes without attributes', 'setQueueAttributes', { queue: 'bi-ok' }, { code: ErrorCodes.MissingField, field: 'attributes' }],
    ['queue attributes not a map', 'createQueue', { queue: 'bi-new', attributes: [1] }, { code: ErrorCodes.InvalidField, field: 'attributes' }],
    ['an unknown queue attribute', 'createQueue', { queue: 'bi-new', attributes: { colour: 1 } }, { code: ErrorCodes.InvalidAttribute, field: 'attributes.colour' }],
    ['a queue attribute of the wrong type', 'setQueueAttributes', { queue: 'bi-ok', attributes: { visibilityMs: '30s' } }, { code: ErrorCodes.InvalidField, field: 'attributes.visibilityMs' }],
    ['listQueues prefix of the wrong type', 'listQueues', { prefix: 3 }, { code: ErrorCodes.InvalidField, field: 'prefix' }],
    ['listQueues after of the wrong type', 'listQueues', { after: true }, { code: ErrorCodes.InvalidField, field: 'after' }],
  ];
  for (const [name, op, args, want] of cases) t.test(name, (t) => badRequest(t, op, args, want));
});

t.test('null means "not given", inside queue attributes too', async (t) => {
  const created = await s.ok<{ attributes: Record<string, number> }>('createQueue', { queue: 'bi-null', attributes: { visibilityMs: null, delayMs: 5 } });
  t.match(created.attributes, { visibilityMs: 30_000, maxMessageBytes: 256 * 1024, receiveWaitMs: 0, delayMs: 5 }, 'the default stands');
  const set = await s.ok<{ attributes: Record<string, number> }>('setQueueAttributes', { queue: 'bi-null', attributes: { visibilityMs: 100, receiveWaitMs: null } });
  t.match(set.attributes, { visibilityMs: 100, receiveWaitMs: 0 }, 'a null attribute is left as it was');
  // The lease of a receive without visibilityMs still ends (the attribute was not erased).
  await s.ok('send', { queue: 'bi-null', body: 'x', delayMs: null });
  const first = await s.ok<{ messages: DeliveredMessage[] }>('receive', { queue: 'bi-null', waitMs: 5000, max: null, visibilityMs: null });
  t.equal(first.messages.length, 1, 'null optional fields are defaults');
  const again = await s.ok<{ messages: DeliveredMessage[] }>('receive', { queue: 'bi-null', waitMs: 5000 });
  t.equal(again.messages[0]?.receiveCount, 2, 'the 100 ms lease ended and the message came back');
});

t.test('integers in the 8-byte CBOR form are read as numbers', async (t) => {
  // {id: 5 (as 0x1b…), op: "listQueues", args: {prefix: "bi-ok", limit: 3 (as 0x1b…)}}, by hand.
  const u64 = (n: number): number[] => [0x1b, 0, 0, 0, 0, 0, 0, 0, n];
  const text = (str: string): number[] => [0x60 + str.length, ...Buffer.from(str)];
  const id = 4_000_000 + s.id(); // unused by the helper's own ids
  const idBytes = [0x1b, 0, 0, 0, 0, (id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff];
  s.sendBytes(Buffer.from([0xa3, ...text('id'), ...idBytes, ...text('op'), ...text('listQueues'), ...text('args'), 0xa2, ...text('prefix'), ...text('bi-ok'), ...text('limit'), ...u64(3)]));
  const reply = await s.reply(id);
  t.same(reply.result, { queues: ['bi-ok'] });
  await stillServes(t);
});

t.test('bodies: empty, over the broker limit, over the queue limit', async (t) => {
  t.test('empty body', (t) => badRequest(t, 'send', { queue: 'bi-ok', body: new Uint8Array(0) }, { code: ErrorCodes.EmptyBody, field: 'body' }));
  t.test('empty text body', (t) => badRequest(t, 'send', { queue: 'bi-ok', body: '' }, { code: ErrorCodes.EmptyBody, field: 'body' }));
  t.test('empty body in a batch', (t) => badRequest(t, 'sendBatch', { queue: 'bi-ok', entries: [{ body: 'a' }, { body: '' }] }, { code: ErrorCodes.EmptyBody, field: 'entries.1.body' }));
  // Entries that are their body alone take a shorter path through validation: the same answers.
  const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(1);
  t.test('empty byte body in a batch', (t) => badRequest(t, 'sendBatch', { queue: 'bi-ok', entries: [{ body: bytes(1) }, { body: bytes(0) }] }, { code: ErrorCodes.EmptyBody, field: 'entries.1.body' }));
  t.test('byte body over the broker limit in a batch', (t) => badRequest(t, 'sendBatch', { queue: 'bi-ok', entries: [{ body: bytes(1) }, { body: bytes(1) }, { body: bytes(Limits.defaultMaxMessageBytes + 1) }] }, { code: ErrorCodes.BodyTooLarge, field: 'entries.2.body' }));
  t.test('a body that is neither bytes nor text in a batch', (t) => badRequest(t, 'sendBatch', { queue: 'bi-ok', entries: [{ body: bytes(1) }, { body: 42 }] }, { code: ErrorCodes.InvalidField, field: 'entries.1.body' }));
  t.test('a null body in a batch', (t) => badRequest(t, 'sendBatch', { queue: 'bi-ok', entries: [{ body: null }] }, { code: ErrorCodes.MissingField, field: 'entries.0.body' }));
  t.test('body over maxMessageBytes (256 KiB)', (t) => badRequest(t, 'send', { queue: 'bi-ok', body: new Uint8Array(Limits.defaultMaxMessageBytes + 1) }, { code: ErrorCodes.BodyTooLarge, field: 'body' }));
  t.test('a body of exactly maxMessageBytes is accepted', async (t) => {
    const r = await s.call('send', { queue: 'bi-ok', body: new Uint8Array(Limits.defaultMaxMessageBytes).fill(7) });
    t.equal(r.error, undefined);
  });
  t.test("body over the queue's own smaller limit", async (t) => {
    const reply = await badRequest(t, 'send', { queue: 'bi-small', body: new Uint8Array(101) }, { code: ErrorCodes.BodyTooLarge, field: 'body' });
    t.match(reply.error?.message, /100/, 'the message says the limit');
    t.equal((await s.call('send', { queue: 'bi-small', body: new Uint8Array(100).fill(1) })).error, undefined, '100 bytes fit');
  });
  t.end();
});

t.test("the broker's own --max-message-bytes is the ceiling for every queue", async (t) => {
  const small = await startBroker(t, { args: ['--max-message-bytes', '1000'] });
  const c = await RawSocket.open(small.url);
  t.teardown(() => c.close());
  await c.ok('createQueue', { queue: 'bi-broker-limit' });
  const over = await c.call('send', { queue: 'bi-broker-limit', body: new Uint8Array(1001) });
  t.match(over.error, { code: ErrorCodes.BodyTooLarge, field: 'body', message: /1000/ });
  t.equal((await c.call('send', { queue: 'bi-broker-limit', body: new Uint8Array(1000).fill(1) })).error, undefined, '1000 bytes fit');
  const above = await c.call('createQueue', { queue: 'bi-above', attributes: { maxMessageBytes: 1001 } });
  t.match(above.error, { code: ErrorCodes.ValueOutOfRange, field: 'attributes.maxMessageBytes', message: /1000/ }, 'a queue limit above the broker ceiling is refused');
  const raise = await c.call('setQueueAttributes', { queue: 'bi-broker-limit', attributes: { maxMessageBytes: 2000 } });
  t.match(raise.error, { code: ErrorCodes.ValueOutOfRange, field: 'attributes.maxMessageBytes' });
  t.equal((await c.call('setQueueAttributes', { queue: 'bi-broker-limit', attributes: { maxMessageBytes: 500 } })).error, undefined, 'a lower queue limit is fine');
  t.equal(c.closed, undefined);
});

t.test('batches: too many entries, too many bytes, empty', async (t) => {
  t.test('1001 entries', (t) => badRequest(t, 'sendBatch', { queue: 'bi-ok', entries: Array.from({ length: Limits.maxBatchEntries + 1 }, () => ({ body: 'x' })) }, { code: ErrorCodes.BatchTooLarge, field: 'entries' }));
  t.test('1001 receipts', (t) => badRequest(t, 'deleteBatch', { queue: 'bi-ok', receipts: Array.from({ length: Limits.maxBatchEntries + 1 }, () => foreign.receipt) }, { code: ErrorCodes.BatchTooLarge, field: 'receipts' }));
  t.test('over the batch byte limit', (t) => {
    const body = new Uint8Array(Limits.defaultMaxMessageBytes).fill(1);
    const n = Math.floor(Limits.maxBatchBytes / body.byteLength) + 1;
    return badRequest(t, 'sendBatch', { queue: 'bi-ok', entries: Array.from({ length: n }, () => ({ body })) }, { code: ErrorCodes.BatchTooLarge, field: 'entries' });
  });
  t.test('empty entries', (t) => badRequest(t, 'sendBatch', { queue: 'bi-ok', entries: [] }, { code: ErrorCodes.EmptyBatch, field: 'entries' }));
  t.test('empty receipts', (t) => badRequest(t, 'deleteBatch', { queue: 'bi-ok', receipts: [] }, { code: ErrorCodes.EmptyBatch, field: 'receipts' }));
  t.test('a rejected batch stored nothing', async (t) => {
    await s.ok('purgeQueue', { queue: 'bi-small' });
    await badRequest(t, 'sendBatch', { queue: 'bi-small', entries: [{ body: 'ok' }, { body: '' }] }, { code: ErrorCodes.EmptyBody, field: 'entries.1.body' });
    const got = await s.ok<{ messages: unknown[] }>('receive', { queue: 'bi-small', max: 10 });
    t.same(got.messages, [], 'all or nothing when the frame itself is invalid');
  });
  t.end();
});

t.test('queue names', async (t) => {
  const bad = ['a'.repeat(81), 'has space', 'slash/y', 'dot.ted', 'ünïcode', '', 'x.fifo.fifo', '.fifo', 'q\u0000'];
  for (const name of bad) {
    t.test(`invalid: ${JSON.stringify(name.length > 20 ? `${name.slice(0, 10)}…(${name.length})` : name)}`, (t) => badRequest(t, 'createQueue', { queue: name }, { code: ErrorCodes.InvalidQueueName, field: 'queue' }));
  }
  t.test('invalid names are refused by every op, not just create', (t) => badRequest(t, 'receive', { queue: 'no way' }, { code: ErrorCodes.InvalidQueueName, field: 'queue' }));
  t.test('valid edge cases', async (t) => {
    for (const name of ['a'.repeat(80), `${'b'.repeat(80)}.fifo`, 'x.fifo', 'A-Z_0-9']) {
      const r = await s.call('createQueue', { queue: name });
      t.equal(r.error, undefined, `${name.length > 20 ? `${name.slice(0, 5)}…(${name.length})` : name} is valid`);
    }
  });
  t.test('unknown queue', (t) => badRequest(t, 'send', { queue: 'bi-nowhere', body: 'x' }, { code: ErrorCodes.QueueDoesNotExist, field: 'queue' }));
  t.test('unknown queue for receive', (t) => badRequest(t, 'receive', { queue: 'bi-nowhere', waitMs: 1000 }, { code: ErrorCodes.QueueDoesNotExist, field: 'queue' }));
  t.test('unknown queue for subscribe', (t) => badRequest(t, 'subscribe', { queue: 'bi-nowhere', credit: 1 }, { code: ErrorCodes.QueueDoesNotExist, field: 'queue' }));
  t.end();
});

t.test('receipts: foreign, garbage, expired', async (t) => {
  t.test("another queue's receipt", (t) => badRequest(t, 'delete', { queue: 'bi-ok', receipt: foreign.receipt }, { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipt' }));
  t.test('garbage', (t) => badRequest(t, 'delete', { queue: 'bi-ok', receipt: 'garbage' }, { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipt' }));
  t.test('an empty receipt', (t) => badRequest(t, 'changeVisibility', { queue: 'bi-ok', receipt: '', visibilityMs: 10 }, { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipt' }));
  t.test('right length, wrong alphabet', (t) => badRequest(t, 'nack', { queue: 'bi-ok', receipt: '!'.repeat(32) }, { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipt' }));
  t.test('a forged receipt for a delivery that never happened', (t) => {
    const r = decodeReceipt(foreign.receipt)!;
    return badRequest(t, 'delete', { queue: 'bi-other', receipt: encodeReceipt({ ...r, receiveCount: r.receiveCount + 5 }) }, { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipt' });
  });
  t.test('a forged receipt beyond the log', (t) => {
    const r = decodeReceipt(foreign.receipt)!;
    return badRequest(t, 'delete', { queue: 'bi-other', receipt: encodeReceipt({ ...r, seq: r.seq + 1000 }) }, { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipt' });
  });
  t.test('a bad receipt inside a batch is that entry’s error', async (t) => {
    const res = await s.ok<{ results: unknown[] }>('deleteBatch', { queue: 'bi-ok', receipts: ['nope'] });
    t.match(res.results, [{ error: { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipts.0' } }]);
  });
  t.test('an expired receipt', async (t) => {
    await s.ok('createQueue', { queue: 'bi-expire' });
    await s.ok('send', { queue: 'bi-expire', body: 'x' });
    const [m] = (await s.ok<{ messages: DeliveredMessage[] }>('receive', { queue: 'bi-expire', visibilityMs: 100 })).messages;
    // The lease runs out (polled: the message shows visible again).
    const deadline = Date.now() + 5000;
    let visible = 0;
    while (visible === 0 && Date.now() < deadline) {
      visible = (await s.ok<{ stats: { visible: number } }>('getQueueAttributes', { queue: 'bi-expire' })).stats.visible;
      if (visible === 0) await new Promise((r) => setTimeout(r, 20));
    }
    t.equal(visible, 1, 'lease over');
    await badRequest(t, 'changeVisibility', { queue: 'bi-expire', receipt: m!.receipt, visibilityMs: 1000 }, { code: ErrorCodes.ReceiptHandleExpired, field: 'receipt' });
    await badRequest(t, 'nack', { queue: 'bi-expire', receipt: m!.receipt }, { code: ErrorCodes.ReceiptHandleExpired, field: 'receipt' });
    const [again] = (await s.ok<{ messages: DeliveredMessage[] }>('receive', { queue: 'bi-expire' })).messages;
    t.equal(again?.receiveCount, 2);
    await badRequest(t, 'delete', { queue: 'bi-expire', receipt: m!.receipt }, { code: ErrorCodes.ReceiptHandleExpired, field: 'receipt' });
  });
  t.end();
});

t.test('out-of-range numbers', async (t) => {
  const cases: Array<[string, string, Record<string, unknown>, string]> = [
    ['visibilityMs over 12 h', 'receive', { queue: 'bi-ok', visibilityMs: Limits.maxVisibilityMs + 1 }, 'visibilityMs'],
    ['negative visibilityMs', 'receive', { queue: 'bi-ok', visibilityMs: -1 }, 'visibilityMs'],
    ['waitMs over 20 s', 'receive', { queue: 'bi-ok', waitMs: Limits.maxWaitMs + 1 }, 'waitMs'],
    ['negative waitMs', 'receive', { queue: 'bi-ok', waitMs: -5 }, 'waitMs'],
    ['max 0', 'receive', { queue: 'bi-ok', max: 0 }, 'max'],
    ['max over 1000', 'receive', { queue: 'bi-ok', max: Limits.maxReceive + 1 }, 'max'],
    ['delayMs over 15 min', 'send', { queue: 'bi-ok', body: 'x', delayMs: Limits.maxDelayMs + 1 }, 'delayMs'],
    ['negative delayMs in a batch entry', 'sendBatch', { queue: 'bi-ok', entries: [{ body: 'x', delayMs: -1 }] }, 'entries.0.delayMs'],
    ['nack delayMs over 15 min', 'nack', { queue: 'bi-ok', receipt: foreign.receipt, delayMs: Limits.maxDelayMs + 1 }, 'delayMs'],
    ['changeVisibility over 12 h', 'changeVisibility', { queue: 'bi-ok', receipt: foreign.receipt, visibilityMs: Limits.maxVisibilityMs + 1 }, 'visibilityMs'],
    ['subscribe credit over the ceiling', 'subscribe', { queue: 'bi-ok', credit: Limits.maxCredit + 1 }, 'credit'],
    ['subscribe negative credit', 'subscribe', { queue: 'bi-ok', credit: -1 }, 'credit'],
    ['subscribe visibilityMs over 12 h', 'subscribe', { queue: 'bi-ok', credit: 1, visibilityMs: Limits.maxVisibilityMs + 1 }, 'visibilityMs'],
    ['credit 0', 'credit', { sub: 1, credit: 0 }, 'credit'],
    ['credit over the ceiling', 'credit', { sub: 1, credit: Limits.maxCredit + 1 }, 'credit'],
    ['negative sub', 'credit', { sub: -1, credit: 1 }, 'sub'],
    ['listQueues limit 0', 'listQueues', { limit: 0 }, 'limit'],
    ['queue visibilityMs over 12 h', 'createQueue', { queue: 'bi-range', attributes: { visibilityMs: Limits.maxVisibilityMs + 1 } }, 'attributes.visibilityMs'],
    ['queue maxMessageBytes over 1 MiB', 'createQueue', { queue: 'bi-range', attributes: { maxMessageBytes: Limits.maxMessageBytesCeiling + 1 } }, 'attributes.maxMessageBytes'],
    ['queue receiveWaitMs over 20 s', 'setQueueAttributes', { queue: 'bi-ok', attributes: { receiveWaitMs: Limits.maxWaitMs + 1 } }, 'attributes.receiveWaitMs'],
    ['queue delayMs negative', 'setQueueAttributes', { queue: 'bi-ok', attributes: { delayMs: -1 } }, 'attributes.delayMs'],
  ];
  for (const [name, op, args, field] of cases) t.test(name, (t) => badRequest(t, op, args, { code: ErrorCodes.ValueOutOfRange, field }));
  t.test('Infinity is not an integer', (t) => badRequest(t, 'receive', { queue: 'bi-ok', waitMs: Infinity }, { code: ErrorCodes.InvalidField, field: 'waitMs' }));
  t.test('NaN is not an integer', (t) => badRequest(t, 'receive', { queue: 'bi-ok', max: NaN }, { code: ErrorCodes.InvalidField, field: 'max' }));
});

t.test('unknown subscription', async (t) => {
  t.test('credit', (t) => badRequest(t, 'credit', { sub: 999, credit: 1 }, { code: ErrorCodes.UnknownSubscription, field: 'sub' }));
  t.test('unsubscribe', (t) => badRequest(t, 'unsubscribe', { sub: 999 }, { code: ErrorCodes.UnknownSubscription, field: 'sub' }));
  t.test("another connection's subscription is unknown here", async (t) => {
    const other = await RawSocket.open(broker.url);
    t.teardown(() => other.close());
    const { sub } = await other.ok<{ sub: number }>('subscribe', { queue: 'bi-ok', credit: 0 });
    // Sub ids are per connection: make sure this one has no subscription of that id.
    await badRequest(t, 'unsubscribe', { sub: sub + 1000 }, { code: ErrorCodes.UnknownSubscription, field: 'sub' });
    t.same(await other.ok('unsubscribe', { sub }), { unsubscribed: true }, 'its own connection can');
  });
  t.end();
});

t.test('a frame over the socket limit closes that socket (1009) and nothing else', async (t) => {
  const other = await RawSocket.open(broker.url);
  t.teardown(() => other.close());
  await other.ok('createQueue', { queue: 'bi-survivor' });
  await other.ok('sendBatch', { queue: 'bi-survivor', entries: [{ body: 'kept 1' }, { body: 'kept 2' }] });

  const victim = await RawSocket.open(broker.url);
  await victim.ok('createQueue', { queue: 'bi-victim' });
  await victim.ok('send', { queue: 'bi-victim', body: 'accepted before' });
  // A well-formed request whose body alone passes the frame limit.
  victim.sendValue({ id: victim.id(), op: 'send', args: { queue: 'bi-victim', body: new Uint8Array(Limits.maxFrameBytes + 1024) } });
  const closed = await victim.waitClosed(15_000);
  t.equal(closed.code, 1009, 'close code 1009 (message too big)');
  t.match(closed.reason, /exceeds the \d+-byte frame limit/, `a clear reason: ${closed.reason}`);

  t.equal(other.closed, undefined, 'the other connection stays open');
  const got = await other.ok<{ messages: DeliveredMessage[] }>('receive', { queue: 'bi-survivor', max: 10 });
  t.same(got.messages.map((m) => Buffer.from(m.body).toString()), ['kept 1', 'kept 2'], 'and keeps working');
  const before = await other.ok<{ messages: DeliveredMessage[] }>('receive', { queue: 'bi-victim', max: 10 });
  t.same(before.messages.map((m) => Buffer.from(m.body).toString()), ['accepted before'], "the closed socket's accepted message is still there");
  const health = await fetch(`${broker.httpUrl}/healthz`);
  t.equal(health.status, 200, 'the broker is healthy');
  const again = await RawSocket.open(broker.url);
  t.teardown(() => again.close());
  t.same((await again.ok<{ queues: string[] }>('listQueues', { prefix: 'bi-victim' })).queues, ['bi-victim'], 'new connections are served');
});

t.test('a frame past the transport cap (4× the frame limit) drops only that socket', async (t) => {
  // uWebSockets.js reads frames up to 4 × maxFrameBytes so that the session can close an oversized
  // one with 1009 and a reason (above). Past that cap uWS drops the TCP connection on the frame
  // header, before buffering it, and sends no close frame: the client sees 1006. Either way only
  // that connection ends.
  const victim = await RawSocket.open(broker.url);
  victim.sendBytes(new Uint8Array(Limits.maxFrameBytes * 4 + 1));
  const closed = await victim.waitClosed(15_000);
  t.equal(closed.code, 1006, 'dropped without a close frame');
  t.equal(s.closed, undefined, 'other connections stay open');
  t.same(await s.ok('listQueues', { prefix: 'bi-victim' }), { queues: ['bi-victim'] }, 'and keep working');
});

t.test('the long-lived socket survived every bad frame', async (t) => {
  t.equal(s.closed, undefined);
  const got = await s.ok<{ messages: unknown[] }>('receive', { queue: 'bi-ok', max: 1000 });
  t.ok(got.messages.length >= goodRequests, 'every good request between the bad ones was stored');
});
