// A push written from the actor's records (LeasedDeliveries, receipts straight into the bytes) is the
// same bytes as the same messages written as objects, reads back through the SDK's reader, and its
// receipts are the receipts the actor validates.
import t from 'tap';
import { DeliveredList, LeasedDeliveries, type Deliveries } from '../src/actors/deliveries.js';
import { DERIVED_ID, State, type Msg } from '../src/actors/message.js';
import { messageIds, messageIdWriter } from '../src/storage/message-id.js';
import { movableBuffers } from '../src/actors/shard-host.js';
import type { FromShard } from '../src/actors/shard-messages.js';
import { qidHalves, readReceipt, receiptString } from '../src/actors/receipt.js';
import { decodeServerMessage } from '../src/client/server-message.js';
import { CborWriter } from '../src/protocol/cbor-writer.js';
import type { DeliveredMessage } from '../src/protocol/ops.js';
import { decodeFrame, encodeFrame } from '../src/protocol/codec.js';
import { EncodedCbor, encodeServerFrames } from '../src/protocol/encoded.js';

const QID = '0123456789abcdef';
const { hi, lo } = qidHalves(QID);
const ISSUER = 0xdead_beef;
const IDS = { text: messageIds(QID), write: messageIdWriter(QID) };

function msg(seq: number, over: Partial<Msg> = {}): Msg {
  return {
    seq, id: `id-${seq}`, sentAt: 1_700_000_000_000 + seq, size: 3, body: undefined, attributes: undefined, receiveCount: 1,
    firstReceivedAt: 1_700_000_000_500, state: State.Leased, until: 0, expiresAt: Infinity, group: '', extra: undefined, holder: undefined, ...over,
  };
}

function written(d: Deliveries, w = new CborWriter()): Uint8Array {
  w.clear();
  d.writeTo(w);
  return w.take();
}

const plain = [msg(0), msg(23, { receiveCount: 24 }), msg(2 ** 32, { receiveCount: 2 ** 32 - 1 }), msg(2 ** 53 - 1, { firstReceivedAt: -1 }), msg(7, { sentAt: 0.5 })];
const optional = [
  msg(1, { attributes: { k: 'v', n: 'ключ' } }),
  msg(2, { extra: { groupId: 'g', timestamp: 5.5, producer: 'p', late: true } }),
  msg(3, { extra: { ttlMs: 10, dedupKey: 'd' } }), // stored-only fields: not delivered
  msg(4, { id: 'ünïcode-id' }),
];
const bodies = (list: readonly Msg[]): Uint8Array[] => list.map((m, i) => new Uint8Array(i % 2 === 0 ? 0 : 300).fill(m.seq & 0xff));

t.test('written from records: the bytes the same messages get as objects', async (t) => {
  const w = new CborWriter();
  for (const list of [[], plain, optional, [...plain, ...optional, ...plain]]) {
    const d = new LeasedDeliveries(list, bodies(list), hi, lo, ISSUER, IDS);
    const objects = d.messages();
    t.equal(d.count, list.length);
    t.same(Buffer.from(written(d, w)), Buffer.from(w.encodeMessages(objects)), `${list.length} messages: the bytes of encodeMessages`);
    t.same(decodeFrame(written(d, w)), decodeFrame(encodeFrame(objects)), 'the value cbor-x writes');
  }
  const list = new DeliveredList(new LeasedDeliveries(optional, bodies(optional), hi, lo, ISSUER, IDS).messages());
  t.same(Buffer.from(written(list)), Buffer.from(new CborWriter().encodeMessages(list.list)), 'a list of objects (stream mode) writes as encodeMessages');
});

t.test('receipts in the bytes are the receipts the actor reads back', async (t) => {
  const d = new LeasedDeliveries(plain, bodies(plain), hi, lo, ISSUER, IDS);
  const pushed = decodeFrame(written(d)) as Array<{ receipt: string; seq: number; receiveCount: number; messageId: string; body: Uint8Array }>;
  pushed.forEach((m, i) => {
    const src = plain[i]!;
    t.equal(m.receipt, receiptString(hi, lo, src.seq, src.receiveCount, ISSUER), `seq ${src.seq}: the receipt string`);
    t.same(readReceipt(m.receipt), { qidHi: hi, qidLo: lo, seq: src.seq, receiveCount: src.receiveCount, issuer: ISSUER }, 'reads back to its fields');
    t.equal(m.messageId, src.id);
    t.same(Buffer.from(m.body), Buffer.from(bodies(plain)[i]!));
  });
});

t.test('the SDK reads a push written from records as cbor-x does', async (t) => {
  const list = [...plain, ...optional];
  const d = new LeasedDeliveries(list, bodies(list), hi, lo, ISSUER, IDS);
  const frame = Buffer.from(encodeServerFrames([{ sub: 3, messages: new EncodedCbor(written(d), d.count) }]));
  t.same(decodeServerMessage(frame), decodeFrame(frame));
});

t.test('a writer reused after a push, or after one abandoned half-way, starts clean', async (t) => {
  const w = new CborWriter();
  w.arrayHead(2); // abandoned: cleared before the next push
  const d = new LeasedDeliveries(plain, bodies(plain), hi, lo, ISSUER, IDS);
  const first = written(d, w);
  const second = written(d, w);
  t.same(Buffer.from(first), Buffer.from(second));
  t.same(decodeFrame(first), decodeFrame(encodeFrame(d.messages())));
});

t.test('a push larger than the writer\'s buffer', async (t) => {
  const list = Array.from({ length: 600 }, (_, i) => msg(i));
  const big = list.map(() => new Uint8Array(256).fill(9));
  const d = new LeasedDeliveries(list, big, hi, lo, ISSUER, IDS);
  const out = written(d);
  t.ok(out.byteLength > 64 * 1024, 'past the first 64 KiB');
  t.same(decodeFrame(out), decodeFrame(encodeFrame(d.messages())));
});

t.test('a message with a derived id gets the id of its sequence, written as bytes or made a string', async (t) => {
  const derived = [msg(0, { id: DERIVED_ID }), msg(2 ** 48 + 5, { id: DERIVED_ID }), msg(2 ** 53 - 1, { id: DERIVED_ID }), msg(9)];
  const d = new LeasedDeliveries(derived, bodies(derived), hi, lo, ISSUER, IDS);
  const objects = d.messages();
  t.same(objects.map((m) => m.messageId), [IDS.text(0), IDS.text(2 ** 48 + 5), IDS.text(2 ** 53 - 1), 'id-9']);
  t.match(IDS.text(2 ** 53 - 1), /^01234567-89ab-8def-801f-ffffffffffff$/);
  const out = written(d);
  t.same(out, new CborWriter().encodeMessages(objects), 'the same bytes as the objects');
  t.same((decodeServerMessage(Buffer.from(out)) as DeliveredMessage[]).map((m) => m.messageId), objects.map((m) => m.messageId));
  for (const seq of [1, 15, 2 ** 24, 2 ** 32 + 7, 2 ** 47, 2 ** 48 - 1]) {
    const b = Buffer.alloc(40, 0x2a);
    IDS.write(b, 2, seq);
    t.equal(b.toString('latin1', 2, 38), IDS.text(seq), `seq ${seq}`);
    t.equal(b[1], 0x2a);
    t.equal(b[38], 0x2a, 'nothing written past the 36 bytes');
  }
});

t.test('a turn\'s push and reply bytes move to the main thread only when they are their buffer\'s alone and large', async (t) => {
  const own = new Uint8Array(8192);
  const small = new Uint8Array(100);
  const shared = new Uint8Array(new ArrayBuffer(16384), 4096, 8192);
  const replies = new Uint8Array(5000);
  const items: FromShard[] = [
    { t: 'push', session: 1, sub: 1, encoded: own, count: 1 },
    { t: 'push', session: 1, sub: 2, encoded: small, count: 1 },
    { t: 'push', session: 1, sub: 3, encoded: shared, count: 1 },
    { t: 'replies', bytes: replies, rs: new Float64Array(1), ends: new Uint32Array(1), counts: new Uint32Array(1) },
    { t: 'reply', r: 1, result: { body: new Uint8Array(10_000) } },
  ];
  t.same(movableBuffers(items), [own.buffer, replies.buffer]);
  t.same(movableBuffers([]), []);
  // A view CborWriter.take handed over: offset 0 of a buffer at most twice its length.
  const handed = new Uint8Array(new ArrayBuffer(16384), 0, 9000);
  const tooLoose = new Uint8Array(new ArrayBuffer(16384), 0, 5000);
  t.same(movableBuffers([{ t: 'push', session: 1, sub: 1, encoded: handed, count: 1 }, { t: 'push', session: 1, sub: 2, encoded: tooLoose, count: 1 }]), [handed.buffer]);
});

t.test('CborWriter.take hands a big write over with its buffer, and the next write does not touch it', async (t) => {
  const w = new CborWriter();
  const first = Array.from({ length: 300 }, (_, i) => 'x'.repeat(100) + i);
  w.append(first);
  const a = w.take();
  t.equal(a.byteOffset, 0);
  t.ok(a.buffer.byteLength <= 2 * a.byteLength, 'the writer\'s own buffer, at least half used');
  const copyOfA = Buffer.from(a);
  w.append(Array.from({ length: 300 }, () => 'y'.repeat(110)));
  const b = w.take();
  t.not(b.buffer, a.buffer, 'a new buffer for the next write');
  t.same(Buffer.from(a), copyOfA, 'the first is unchanged');
  t.same(decodeFrame(a), first);
  w.append('small');
  const c = w.take();
  t.equal(c.buffer.byteLength, c.byteLength, 'a small write is copied out into a buffer of its own');
  t.same(decodeFrame(c), 'small');
});
