// The protocol codec: frames round-trip, integers in CBOR's 8-byte form read as numbers, and an
// array assembled from already-encoded frames is the same CBOR as the array encoded at once.
import t from 'tap';
import { decodeFrame, encodeFrame, encodedArray } from '../src/protocol/codec.js';

t.test('encodedArray equals encoding the array, at every length-header boundary', async (t) => {
  for (const n of [0, 1, 23, 24, 255, 256, 65_535, 65_536]) {
    const frames = Array.from({ length: n }, (_, i) => ({ id: i, result: { ok: i % 3 === 0 } }));
    const assembled = encodedArray(frames.map((f) => encodeFrame(f)));
    t.same(Buffer.from(assembled), Buffer.from(encodeFrame(frames)), `${n} frames: same bytes`);
  }
});

t.test('8-byte integers decode as numbers', async (t) => {
  t.equal(decodeFrame(Buffer.from([0x1b, 0, 0, 0, 0, 0, 0, 0, 42])), 42);
  t.equal(decodeFrame(Buffer.from([0x3b, 0, 0, 0, 0, 0, 0, 0, 41])), -42);
  t.equal(decodeFrame(Buffer.from([0x1b, 0, 0, 0, 1, 0, 0, 0, 0])), 2 ** 32);
});

t.test('bodies survive a round trip as bytes', async (t) => {
  const body = new Uint8Array([0, 1, 2, 255]);
  const back = decodeFrame(encodeFrame({ id: 1, op: 'send', args: { queue: 'q', body } })) as { args: { body: Uint8Array } };
  t.same([...back.args.body], [0, 1, 2, 255]);
});
