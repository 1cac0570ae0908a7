// The client's reader of server messages: the same values cbor-x decodes, for every shape the
// server writes and for the shapes it leaves to cbor-x; malformed input still throws.
import t, { type Test } from 'tap';
import { decodeServerMessage } from '../src/client/server-message.js';
import { decodeFrame, encodeFrame } from '../src/protocol/codec.js';
import { CborWriter } from '../src/protocol/cbor-writer.js';
import { EncodedCbor, encodeServerFrames } from '../src/protocol/encoded.js';

const w = new CborWriter();
const body = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);
const plain = { messageId: '01234567-89ab-8cde-8000-000000000001', receipt: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef', body: body(256), seq: 1, receiveCount: 1, sentAt: 1_764_100_000_000, firstReceivedAt: -1 };
const every = {
  ...plain, seq: 2 ** 53 - 1, receiveCount: 2 ** 32 - 1, body: body(70_000), attributes: { k: 'v', 'ключ': 'значение' }, groupId: 'g', timestamp: 5.5, producer: 'p', late: true,
  deadLetter: { reason: 'maxReceives', sourceQueue: 'src', originalMessageId: 'o', receiveCount: 3, firstSentAt: 1, deadLetteredAt: 2 },
};
const push = (sub: number, messages: object[]): Uint8Array => encodeServerFrames([{ sub, messages: new EncodedCbor(w.encodeMessages(messages as never), messages.length) }]);

function same(t: Test, bytes: Uint8Array, what: string): void {
  const got = decodeServerMessage(Buffer.from(bytes));
  t.same(got, decodeFrame(bytes), what);
}

t.test('pushes and replies decode as cbor-x decodes them', async (t) => {
  same(t, push(1, [plain]), 'a push of one message');
  same(t, push(2 ** 31 - 1, [plain, every, plain]), 'a push with every optional field');
  same(t, push(3, []), 'an empty push');
  same(t, push(4, Array.from({ length: 1000 }, (_, i) => ({ ...plain, seq: i }))), '1000 messages');
  const frames = encodeServerFrames([
    { id: 1, result: new EncodedCbor(w.encode({ results: [{ ok: { deleted: true } }, { error: { code: 'ReceiptHandleExpired', message: 'x', field: 'receipts.1' } }] }), 1) },
    { sub: 5, messages: new EncodedCbor(w.encodeMessages([plain] as never), 1) },
    { id: 2, result: { credit: 1000 } },
    { sub: 5, end: { code: 'QueueDoesNotExist', message: 'gone', retryable: false } },
    { id: null, error: { code: 'BadFrame', message: 'x' } },
    { id: 3, result: { values: [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32, 2 ** 40, -1, -25, -(2 ** 40), 0.1, 1e300, null, true, false, '', 'é😀'] } },
  ]);
  same(t, frames, 'a turn of mixed frames');
  same(t, encodeFrame({ id: 9, result: { unsubscribed: true } }), 'one reply');
});

t.test('batch results and repeated keys decode as cbor-x decodes them', async (t) => {
  const results = Array.from({ length: 100 }, (_, i) => ({ ok: { messageId: `01234567-89ab-8cde-8000-${i.toString(16).padStart(12, '0')}`, seq: i } }));
  same(t, encodeServerFrames([{ id: 1, result: new EncodedCbor(w.encode({ results }), 100) }, { id: 2, result: { results } }]), 'sendBatch results, spliced and not');
  same(t, encodeFrame({ id: 3, result: { results: [{ ok: { messageId: 'm', seq: 1, duplicate: true } }, { ok: { messageId: 'm', deadLettered: true } }, { ok: { seq: 1, messageId: 'm' } }] } }), 'results of other shapes');
  same(t, encodeFrame({ id: 4, result: { ok: 1, other: 2 } }), 'an ok key among others');
  same(t, Uint8Array.from([0xa2, 0x69, ...Buffer.from('messageId'), 0x61, 0x6d, 0x69, ...Buffer.from('__proto__'), 0x01]), 'a __proto__ key after messageId');
  // More distinct keys than the key cache has slots, each seen twice: hits, misses and collisions.
  const many = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, i]));
  same(t, encodeFrame({ id: 5, result: [many, many] }), '600 keys, twice');
  same(t, encodeFrame({ id: 6, result: { ['x'.repeat(23)]: 1, ['y'.repeat(24)]: 2, 'é': 3 } }), 'keys at the short limit, past it, not ASCII');
});

t.test('a message\'s fields in any order, with other keys among them, decode as cbor-x decodes them', async (t) => {
  const reversed = Object.fromEntries(Object.entries(plain).reverse());
  const extraFirst = { groupId: 'g', ...plain };
  const extraBetween = { messageId: plain.messageId, receipt: plain.receipt, late: true, body: plain.body, seq: 3, receiveCount: 2, sentAt: 1, firstReceivedAt: 2 };
  const swapped = { receipt: plain.receipt, messageId: plain.messageId, body: plain.body, seq: 4, receiveCount: 1, firstReceivedAt: 5, sentAt: 6 };
  for (const [what, m] of [['reversed', reversed], ['an optional field first', extraFirst], ['an optional field between', extraBetween], ['two swapped', swapped]] as const) {
    same(t, encodeFrame({ sub: 1, messages: [m, plain, m] }), what);
  }
  same(t, encodeFrame({ sub: 1, messages: [{ ...plain, seq: undefined }] }), 'a required field in order whose value is undefined');
  // A required key repeated at the end: the last value wins, in both readers.
  const once = Buffer.from(w.encode(plain));
  t.equal(once[0], 0xa7, 'a map of the seven fields');
  const twice = Uint8Array.from([0xa8, ...once.subarray(1), 0x63, ...Buffer.from('seq'), 0x18, 99]);
  same(t, Buffer.from([0xa2, 0x63, ...Buffer.from('sub'), 0x01, 0x68, ...Buffer.from('messages'), 0x81, ...twice]), 'seq twice');
});

t.test('bodies are views into the message, not copies', async (t) => {
  const bytes = Buffer.from(push(1, [plain]));
  const { messages } = decodeServerMessage(bytes) as { messages: Array<{ body: Uint8Array }> };
  t.equal(messages[0]!.body.buffer, bytes.buffer);
});

t.test('what the fast reader does not take goes to cbor-x, with the same result', async (t) => {
  same(t, encodeFrame({ sub: 1, messages: [{ ...plain, sentAt: new Date(5) }] }), 'a tag');
  same(t, encodeFrame({ sub: 1, messages: [{ messageId: 'x', body: body(3) }] }), 'a message lacking fields');
  same(t, encodeFrame({ sub: 1, messages: [{ ...plain, extra: new Map([[1, 2]]) }] }), 'a map with a number key');
  same(t, encodeFrame({ sub: 1, messages: [{ ...plain, timestamp: 0.5 }] }), 'a number cbor-x writes as float32');
  same(t, Uint8Array.from([0xa2, 0x63, 0x73, 0x75, 0x62, 0x01, 0x68, ...Buffer.from('messages'), 0x9f, 0xff]), 'an indefinite-length array');
  same(t, Uint8Array.from([0xa1, 0x69, ...Buffer.from('__proto__'), 0x01]), 'a __proto__ key');
});

t.test('malformed input throws, as cbor-x does', async (t) => {
  const whole = Buffer.from(push(1, [plain, plain]));
  for (const cut of [0, 1, 5, 20, 100, whole.length - 1]) t.throws(() => decodeServerMessage(whole.subarray(0, cut)), `cut at ${cut}`);
  t.throws(() => decodeServerMessage(Buffer.from([0x9a, 0xff, 0xff, 0xff, 0xff])), 'an array longer than the message');
  t.throws(() => decodeServerMessage(Buffer.from([0xff])), 'a break alone');
});
