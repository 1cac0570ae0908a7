// A turn's sends packed for postMessage (packing.ts) come back equal: requests in order, bodies,
// and every other field, through a real structured clone with the buffers transferred.
import t from 'tap';
import { SendPacker, transferables, unpackSends, type PackedSends, type UnpackedSend } from '../src/actors/packing.js';
import type { SendEntry } from '../src/protocol/ops.js';
import { sameHiddenClass } from './helpers/hidden-class.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

function unpacked(p: PackedSends): UnpackedSend[] {
  const out: UnpackedSend[] = [];
  unpackSends(structuredClone(p, { transfer: transferables(p) }), (s) => out.push(s));
  return out;
}

t.test('round trip keeps requests, bodies, order and extra fields', async (t) => {
  const packer = new SendPacker();
  const batch: SendEntry[] = [{ body: bytes('one') }, { body: bytes('two'), delayMs: 5 }, { body: new Uint8Array(0) }, { body: bytes('four'), attributes: { k: 'v' } }];
  packer.add(7, 'qid-a', false, batch);
  packer.add(8, 'qid-b', true, [{ queue: 'b', body: bytes('single') } as SendEntry]);
  packer.add(2 ** 40, 'qid-a', true, [{ queue: 'a', body: bytes('late'), groupId: 'g' } as SendEntry]);
  t.equal(packer.size, 3);
  const packed = packer.take();
  t.equal(packed.bytes.byteLength, 20);
  t.same([...packed.ends], [3, 6, 6, 10, 16, 20]);
  t.same(packed.extras, [[1, { delayMs: 5 }], [3, { attributes: { k: 'v' } }], [5, { groupId: 'g' }]], 'a send\'s queue name is not an extra');
  const back = unpacked(packed);
  t.same(back.map((s) => [s.r, s.qid, s.single, s.entries.length]), [[7, 'qid-a', false, 4], [8, 'qid-b', true, 1], [2 ** 40, 'qid-a', true, 1]]);
  t.same(back[0]!.entries.map((e) => text(e.body)), ['one', 'two', '', 'four']);
  t.same(back[0]!.entries.map(({ body: _b, ...rest }) => rest), [{}, { delayMs: 5 }, {}, { attributes: { k: 'v' } }]);
  t.same(back[2]!.entries.map(({ body, ...rest }) => [text(body), rest]), [['late', { groupId: 'g' }]]);
  t.equal(packed.bytes.byteLength, 0, 'the bodies were transferred, not copied');
});

t.test('plain bodies carry no extras; take starts over', async (t) => {
  const packer = new SendPacker();
  packer.add(1, 'q', false, [{ body: bytes('a') }, { body: bytes('b'), delayMs: undefined }]);
  t.equal(packer.take().extras, undefined);
  t.equal(packer.size, 0);
  const empty = packer.take();
  t.equal(empty.qids.length, 0);
  t.same(unpacked(empty), []);
});

t.test('entries with extras of one shape come out with one hidden class, not one each', async (t) => {
  const packer = new SendPacker();
  for (let i = 0; i < 3000; i++) packer.add(i, 'q', true, [{ queue: 'q', body: bytes(`m${i}`), groupId: `g${i % 10}` } as SendEntry]);
  const back = unpacked(packer.take());
  const entries = back.map((s) => s.entries[0]!);
  t.same(entries.slice(-2).map((e) => [text(e.body), e.groupId]), [['m2998', 'g8'], ['m2999', 'g9']]);
  t.ok(sameHiddenClass(entries[2998]!, entries[2999]!), 'the last two share their hidden class');
});
