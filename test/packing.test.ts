// sendBatch entries packed for postMessage come back equal: bodies, order, and every other field.
import t from 'tap';
import { packEntries, packMessages, packResults, unpackEntries, unpackMessages, unpackResults } from '../src/actors/packing.js';
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

t.test('pushed messages round trip, with attributes and unknown fields kept', async (t) => {
  const messages = [
    { messageId: 'm1', receipt: 'r1', body: bytes('hello'), seq: 1, receiveCount: 1, sentAt: 1_700_000_000_000, firstReceivedAt: 1_700_000_000_005 },
    { messageId: 'm2', receipt: 'r2', body: bytes('x'), seq: 2 ** 40, receiveCount: 3, sentAt: 1, firstReceivedAt: 2, attributes: { a: 'b' }, groupId: 'g' },
  ];
  const back = unpackMessages(structuredClone(packMessages(messages)));
  t.same(back.map((m) => ({ ...m, body: new TextDecoder().decode(m.body) })), messages.map((m) => ({ ...m, body: new TextDecoder().decode(m.body) })));
});

t.test('uniform batch replies round trip as columns; anything else is left alone', async (t) => {
  const sent = { results: [{ ok: { messageId: 'a', seq: 1 } }, { ok: { messageId: 'b', seq: 2 ** 50 } }] };
  const packed = packResults(sent)!;
  t.same(packed.fields, ['messageId', 'seq']);
  t.same(unpackResults(structuredClone(packed)), sent);
  const deleted = { results: [{ ok: { deleted: true } }, { ok: { deleted: false } }] };
  t.same(unpackResults(structuredClone(packResults(deleted)!)), deleted);
  t.equal(packResults({ results: [{ ok: { deleted: true } }, { error: { code: 'ReceiptHandleIsInvalid', message: 'x' } }] }), undefined, 'mixed outcomes');
  t.equal(packResults({ results: [{ ok: { a: 1 } }, { ok: { b: 1 } }] }), undefined, 'different shapes');
  t.equal(packResults({ results: [{ ok: { a: { nested: 1 } } }, { ok: { a: { nested: 2 } } }] }), undefined, 'nested values');
  t.equal(packResults({ results: [{ ok: { a: 1 } }] }), undefined, 'a single entry');
  t.equal(packResults({ messages: [] }), undefined, 'not a batch reply');
  t.equal(packResults({ results: [{ ok: { a: 1 } }, { ok: { a: 2 } }], more: 1 }), undefined, 'other fields beside results');
});
