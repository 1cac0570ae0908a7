// The broker's reader of client frames (src/protocol/cbor-reader.ts): the same values cbor-x's
// view decoder returns, for the frames clients send most and for every shape left to cbor-x;
// malformed input still throws from decodeOwnedFrame.
import t, { type Test } from 'tap';
import { Encoder } from 'cbor-x';
import { readSubset } from '../src/protocol/cbor-reader.js';
import { decodeOwnedFrame, encodeFrame } from '../src/protocol/codec.js';

// The decoder decodeOwnedFrame used before the subset reader (codec.ts's options).
const cborX = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, copyBuffers: false, int64AsNumber: true } as never);

const body = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);
const bytesOf = (...b: number[]): Uint8Array => Uint8Array.from(b);
const text = (s: string): number[] => [0x60 | s.length, ...Buffer.from(s, 'latin1')];

/** Both decoders agree, and the subset reader took it (`fast`) or left it to cbor-x. */
function same(t: Test, bytes: Uint8Array, fast: boolean, what: string): void {
  t.same(decodeOwnedFrame(bytes), cborX.decode(bytes), what);
  t.equal(readSubset(bytes) !== undefined, fast, `${what}: ${fast ? 'read by the subset reader' : 'left to cbor-x'}`);
}

t.test('client frames decode as cbor-x decodes them', async (t) => {
  const batch = (id: number, n: number): object => ({ id, op: 'sendBatch', args: { queue: 'orders-1', entries: Array.from({ length: n }, (_, i) => ({ body: body(256, i) })) } });
  same(t, encodeFrame(batch(1, 100)), true, 'a sendBatch of 100');
  same(t, encodeFrame([batch(1, 10), batch(2, 10), { id: 3, op: 'send', args: { queue: 'q', body: body(1), delayMs: 5 } }]), true, 'several frames in one message');
  same(t, encodeFrame({ id: 4, op: 'deleteBatch', args: { queue: 'q', receipts: ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef', 'x'] } }), true, 'a deleteBatch');
  same(t, encodeFrame({ id: 5, op: 'x', args: { values: [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32, 2 ** 40, -1, -25, -(2 ** 40), 0.1, 1e300, null, true, false, '', []] } }), true, 'numbers and simple values');
  same(t, encodeFrame({ id: 6, op: 'x', args: { ['k'.repeat(23)]: 1, ['l'.repeat(24)]: 2, ['m'.repeat(300)]: 3 } }), true, 'keys at the short limit and past it');
  same(t, encodeFrame({ id: 7, op: 'x', args: { a: 1, b: { a: 2, c: [{ a: 3 }] } } }), true, 'nested maps sharing keys');
  // More distinct keys than the cache has slots, each seen twice: hits, misses and collisions.
  const many = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, i]));
  same(t, encodeFrame([many, many]), true, '600 keys, twice');
  same(t, bytesOf(0xa2, ...text('a'), 0x01, ...text('a'), 0x02), true, 'a repeated key: the last one wins');
  same(t, bytesOf(0x1b, 0, 0x20, 0, 0, 0, 0, 0, 1), true, 'an integer in the 8-byte form is a number');
  same(t, bytesOf(0x18, 5), true, 'an integer not in its shortest form');
});

t.test('byte strings are views into the message, not copies', async (t) => {
  const bytes = encodeFrame({ id: 1, op: 'send', args: { queue: 'q', body: body(300) } });
  const decoded = readSubset(bytes) as { args: { body: Uint8Array } };
  t.equal(decoded.args.body.buffer, bytes.buffer);
  t.ok(Buffer.from(decoded.args.body).equals(Buffer.from(body(300))));
});

t.test('what the subset reader does not take goes to cbor-x, with the same result', async (t) => {
  same(t, encodeFrame({ id: 1, op: 'x', args: { at: new Date(5) } }), false, 'a tag');
  same(t, bytesOf(0xa1, ...text('v'), 0xfa, 0x3f, 0x00, 0x00, 0x00), false, 'a single float');
  same(t, bytesOf(0xf9, 0x3c, 0x00), false, 'a half float');
  same(t, encodeFrame({ id: 1, op: 'x', args: { queue: 'ключ' } }), false, 'text that is not ASCII');
  same(t, encodeFrame({ id: 1, op: 'x', args: { 'ключ': 1 } }), false, 'a key that is not ASCII');
  same(t, bytesOf(0xa1, 0x01, 0x02), false, 'a number key');
  same(t, bytesOf(0xa1, ...text('__proto__'), 0x01), false, 'a __proto__ key');
  same(t, bytesOf(0x9f, 0x01, 0xff), false, 'an indefinite-length array');
  t.equal(readSubset(bytesOf(0xf8, 0x20)), undefined, 'a simple value in the next byte is left to cbor-x');
  same(t, bytesOf(0xf7), false, 'a lone undefined');
  t.equal(readSubset(bytesOf(0x01, 0x02)), undefined, 'trailing bytes are left to cbor-x');
});

t.test('malformed input throws from decodeOwnedFrame, as with cbor-x alone', async (t) => {
  const whole = encodeFrame({ id: 1, op: 'sendBatch', args: { queue: 'q', entries: [{ body: body(100) }, { body: body(100) }] } });
  for (const cut of [0, 1, 5, 20, 100, whole.length - 1]) {
    const part = whole.subarray(0, cut);
    t.equal(readSubset(part), undefined, `cut at ${cut}: left to cbor-x`);
    t.throws(() => decodeOwnedFrame(part), `cut at ${cut}: throws`);
  }
  t.throws(() => decodeOwnedFrame(bytesOf(0x9a, 0xff, 0xff, 0xff, 0xff)), 'an array longer than the message');
  t.throws(() => decodeOwnedFrame(bytesOf(0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 'a map longer than the message');
  t.throws(() => decodeOwnedFrame(bytesOf(0x5a, 0, 0, 1, 0, 1)), 'a byte string past the end');
});
