// sendBatch entries packed for postMessage come back equal: bodies, order, and every other field.
import t from 'tap';
import { packEntries, unpackEntries } from '../src/actors/packing.js';
import type { SendEntry } from '../src/protocol/ops.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

t.test('round trip keeps bodies, order and extra fields', async (t) => {
  const entries: SendEntry[] = [
    { body: bytes('one') },
    { body: bytes('two'), delayMs: 5 },
    { body: new Uint8Array(0) },
    { body: bytes('four'), attributes: { k: 'v' } },
  ];
  const packed = packEntries(entries);
  t.equal(packed.bytes.byteLength, 10);
  t.same([...packed.ends], [3, 6, 6, 10]);
  t.same(packed.extras, [[1, { delayMs: 5 }], [3, { attributes: { k: 'v' } }]]);
  const back = unpackEntries(structuredClone(packed));
  t.same(back.map((e) => new TextDecoder().decode(e.body)), ['one', 'two', '', 'four']);
  t.same(back.map(({ body: _b, ...rest }) => rest), [{}, { delayMs: 5 }, {}, { attributes: { k: 'v' } }]);
});

t.test('plain bodies carry no extras', async (t) => {
  const packed = packEntries([{ body: bytes('a') }, { body: bytes('b'), delayMs: undefined }]);
  t.equal(packed.extras, undefined);
});
