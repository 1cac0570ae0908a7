// The stored form of a message (binary header + body) and message ids derived from (queue id, seq).
import t from 'tap';
import { Encoder } from 'cbor-x';
import { decodeMessage, encodeMessage } from '../src/storage/message-record.js';
import { messageIdOf, messageIds } from '../src/storage/message-id.js';
import type { StoredMessage } from '../src/storage/records.js';

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

t.test('a record round-trips: plain, with meta, with an explicit id', async (t) => {
  const body = Buffer.from('hello');
  const plain: StoredMessage = { sentAt: 1_700_000_000_123, visibleAt: 1_700_000_000_456, body };
  const b = encodeMessage(plain);
  t.equal(b.length, 18 + body.length, 'a plain message is an 18-byte header and its body');
  t.same(decodeMessage(b), plain);
  const full: StoredMessage = {
    id: '09d59b77-2f2c-434f-a34e-87f13e7dbd95', sentAt: 5, visibleAt: 6, body: new Uint8Array([0, 1, 2]),
    attributes: { k: 'v', 'sqs:types': '{}' }, ttlMs: 1000, groupId: 'g', dedupKey: 'd', timestamp: 7, producer: 'p', late: true,
    deadLetter: { reason: 'maxReceives', sourceQueue: 'src', originalMessageId: 'x', receiveCount: 3, firstSentAt: 1, deadLetteredAt: 2 },
  };
  const decoded = decodeMessage(encodeMessage(full));
  t.same({ ...decoded, body: Buffer.from(decoded.body) }, { ...full, body: Buffer.from(full.body) });
  t.same(decodeMessage(encodeMessage({ sentAt: 1, visibleAt: 1, body: new Uint8Array(0) })).body.byteLength, 0, 'an empty body (a dead letter of one) is kept empty');
});

t.test('a record written into a buffer the caller hands out is the same record', async (t) => {
  const slab = Buffer.alloc(4096, 0xee);
  let used = 0;
  const alloc = (n: number): Buffer => slab.subarray(used, (used += n));
  const withMeta: StoredMessage = { sentAt: 5, visibleAt: 6, body: Buffer.from('x'), attributes: { k: 'v' }, ttlMs: undefined, groupId: 'g' };
  for (const m of [{ sentAt: 1, visibleAt: 2, body: Buffer.from('hello') }, withMeta]) {
    const b = encodeMessage(m, alloc);
    t.equal(b.buffer, slab.buffer, 'written where alloc said');
    t.same(b, encodeMessage(m));
  }
  t.notOk('ttlMs' in decodeMessage(encodeMessage(withMeta)), 'a field left undefined is not stored');
});

t.test('records of older versions (CBOR maps) are still read', async (t) => {
  const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true, tagUint8Array: false });
  const old = { id: 'fb526970-0000-4000-8000-000000000000', sentAt: 3, visibleAt: 4, body: Buffer.from('old'), attributes: { a: 'b' } };
  const decoded = decodeMessage(Buffer.from(cbor.encode(old)));
  t.same({ ...decoded, body: Buffer.from(decoded.body) }, old);
});

t.test('message ids are RFC 9562 version 8 UUIDs of (queue id, seq), unique per queue and sequence', async (t) => {
  const ids = messageIds('0123456789abcdef');
  t.equal(ids(0), '01234567-89ab-8def-8000-000000000000');
  t.equal(ids(42), '01234567-89ab-8def-8000-00000000002a');
  t.equal(ids(Number.MAX_SAFE_INTEGER), '01234567-89ab-8def-801f-ffffffffffff', 'the widest sequence still fits');
  t.equal(messageIdOf('0123456789ABCDEF', 42), ids(42), 'lower-case whatever the spelling of the queue id');
  for (const seq of [0, 1, 2 ** 32, 2 ** 48, 2 ** 48 + 1, Number.MAX_SAFE_INTEGER]) t.match(ids(seq), UUID_V8, `seq ${seq}`);
  const seen = new Set<string>();
  for (const qid of ['0000000000000000', '0000000000000001', 'ffffffffffffffff']) for (let seq = 0; seq < 1000; seq++) seen.add(messageIdOf(qid, seq));
  seen.add(messageIdOf('0000000000000000', 2 ** 48));
  t.equal(seen.size, 3001, 'no two (queue, seq) share an id');
  // Each digit, across the 24-bit halves the sequence is written in, against the layout spelled out.
  const spelled = (seq: number): string => {
    const high = Math.floor(seq / 2 ** 48);
    return `01234567-89ab-8def-${(0x8000 + high).toString(16)}-${(seq - high * 2 ** 48).toString(16).padStart(12, '0')}`;
  };
  for (const seq of [15, 16, 2 ** 24 - 1, 2 ** 24, 2 ** 24 + 1, 0xabcdef123456, 2 ** 48 - 1, 2 ** 48, 2 ** 52 + 0x123456789, 0x1f_0000_0000_0000 - 1]) t.equal(ids(seq), spelled(seq), `seq ${seq}`);
  const earlier = ids(7);
  ids(8);
  t.equal(earlier, '01234567-89ab-8def-8000-000000000007', 'an id made earlier keeps its digits');
});
