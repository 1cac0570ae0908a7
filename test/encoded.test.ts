// Answers a shard encoded once: spliced into frames byte for byte, and the same value wherever
// something reads or re-encodes them.
import t from 'tap';
import { decodeFrame, encodeFrame } from '../src/protocol/codec.js';
import { EncodedCbor, encodeServerFrame, encodeServerFrames, valueOf } from '../src/protocol/encoded.js';
import { CborWriter, SendOk } from '../src/protocol/cbor-writer.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const messages = [
  { messageId: 'm1', receipt: 'r1', body: bytes('hello'), seq: 1, receiveCount: 1, sentAt: 1_700_000_000_000, firstReceivedAt: 1_700_000_000_005 },
  { messageId: 'm2', receipt: 'r2', body: bytes('x'), seq: 2 ** 40, receiveCount: 3, sentAt: 1, firstReceivedAt: 2, attributes: { a: 'b' }, groupId: 'g' },
];
const results = { results: [{ ok: { messageId: 'a', seq: 1 } }, { error: { code: 'QueueFull', message: 'full', field: 'entries.1' } }] };

t.test('a spliced frame decodes as the frame encoded whole', async (t) => {
  for (const id of [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 40]) {
    const spliced = encodeServerFrame({ id, result: new EncodedCbor(encodeFrame(results), 1) });
    t.same(decodeFrame(spliced), { id, result: results }, `id ${id}`);
  }
  const push = encodeServerFrame({ sub: 7, messages: new EncodedCbor(encodeFrame(messages), 2) });
  t.same(decodeFrame(push), { sub: 7, messages });
});

t.test('a turn of frames, spliced and plain mixed, is one CBOR array of them', async (t) => {
  const frames = [
    { id: 1, result: new EncodedCbor(encodeFrame(results), 1) },
    { id: 2, result: { deleted: true } },
    { sub: 3, messages: new EncodedCbor(encodeFrame(messages), 2) },
    { id: null, error: { code: 'BadFrame', message: 'x' } },
  ];
  t.same(decodeFrame(encodeServerFrames(frames)), [
    { id: 1, result: results }, { id: 2, result: { deleted: true } }, { sub: 3, messages }, { id: null, error: { code: 'BadFrame', message: 'x' } },
  ]);
  t.same(decodeFrame(encodeServerFrames([{ id: 9, result: { ok: 1 } }])), { id: 9, result: { ok: 1 } }, 'one plain frame alone');
  const many = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? { id: i, result: { deleted: true } } : { id: i, result: new EncodedCbor(encodeFrame(results), 1) }));
  t.same(decodeFrame(encodeServerFrames(many)), many.map((f) => ({ id: f.id, result: valueOf(f.result) })), '300 frames: a longer array head');
});

t.test('anywhere else it is its value: read, or encoded by cbor-x inside another object', async (t) => {
  const e = new EncodedCbor<typeof results>(encodeFrame(results), 1);
  t.same(valueOf(e), results);
  t.equal(valueOf(results), results, 'a plain value is itself');
  t.same(decodeFrame(encodeFrame({ k: 'answer', a: { result: e } })), { k: 'answer', a: { result: results } }, 'a peer link re-encodes the value');
});

t.test('what the shard\'s CBOR writer writes decodes as what cbor-x writes', async (t) => {
  const w = new CborWriter();
  const shapes: unknown[] = [
    messages, results, { messages }, { results: [{ ok: { deleted: true } }, { ok: { deleted: false } }] },
    { deadLetter: { reason: 'maxReceives', receiveCount: 3, group: 'g' }, late: true, n: null, u: undefined },
    [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -24, -25, -256, -257, -(2 ** 31), -(2 ** 31) - 1, 0.5, -0.25, 1e300],
    ['', 'a'.repeat(23), 'a'.repeat(24), 'a'.repeat(300), 'a'.repeat(70_000), 'héllo', 'ключ', '😀'],
    { 'ключ': 'значение', ['k'.repeat(30)]: new Uint8Array(300) },
  ];
  for (const v of shapes) t.same(decodeFrame(w.encode(v)), decodeFrame(encodeFrame(v)), `${JSON.stringify(v)?.slice(0, 60)}`);
  for (const v of shapes.slice(5, 7)) t.same(Buffer.from(w.encode(v)), Buffer.from(encodeFrame(v)), 'numbers and text: the bytes cbor-x writes');
  const odd = { m: new Map([['a', 1]]), when: new Date(5) };
  t.same(decodeFrame(w.encode(odd)), decodeFrame(encodeFrame(odd)), 'what it does not know, cbor-x encodes');
  const big = { body: new Uint8Array(200_000).fill(7) };
  t.same(decodeFrame(w.encode(big)), big, 'a value larger than its buffer');
  const first = w.encode({ a: 1 });
  w.encode({ b: 2 });
  t.same(decodeFrame(first), { a: 1 }, 'an earlier result is not overwritten by the next');
});

t.test('delivered messages written field by field decode as the same messages', async (t) => {
  const w = new CborWriter();
  const every = {
    messageId: 'id', receipt: 'r'.repeat(32), body: new Uint8Array(300).fill(1), seq: 2 ** 53 - 1, receiveCount: 2 ** 32 - 1, sentAt: 1_700_000_000_000,
    firstReceivedAt: -1, attributes: { k: 'v', n: 'ключ' }, groupId: 'g', timestamp: 5.5, producer: 'p', late: true as const,
    deadLetter: { reason: 'maxReceives' as const, sourceQueue: 'src', originalMessageId: 'o', receiveCount: 3, firstSentAt: 1, deadLetteredAt: 2 },
  };
  for (const list of [[], messages, [every], [...messages, every, ...messages]]) {
    t.same(decodeFrame(w.encodeMessages(list)), decodeFrame(encodeFrame(list)), `${list.length} messages`);
  }
  t.same(Buffer.from(w.encodeMessages(messages)), Buffer.from(w.encode(messages)), 'the bytes of the generic path');
});

t.test('a frozen object is written from its first encoding, and still decodes as itself', async (t) => {
  const w = new CborWriter();
  const inner = Object.freeze({ deleted: true });
  const entry = Object.freeze({ ok: inner });
  const value = { results: [entry, { error: { code: 'X', message: 'y' } }, entry, entry], other: inner };
  t.same(decodeFrame(w.encode(value)), value, 'first time');
  t.same(decodeFrame(w.encode(value)), value, 'from the cache');
  t.same(Buffer.from(w.encode(value)), Buffer.from(w.encode({ ...value, results: value.results.map((e) => ({ ...e })), other: { ...inner } })), 'the bytes a plain copy gets');
});

t.test('a send result the shard marks (SendOk) is written as the plain result, and is one to cbor-x', async (t) => {
  const w = new CborWriter();
  const plain = [
    { ok: { messageId: '01234567-89ab-8def-8000-00000000002a', seq: 42 } }, { ok: { messageId: 'm', seq: 2 ** 40 } },
    { ok: { messageId: 'd', seq: 1, duplicate: true as const } }, { ok: { messageId: 'l', seq: 3, deadLettered: true as const } },
  ];
  const marked = plain.map((e) => new SendOk(e.ok));
  t.same(Buffer.from(w.encode({ results: marked })), Buffer.from(w.encode({ results: plain })), 'the same bytes');
  t.same(decodeFrame(w.encode({ results: marked })), { results: plain }, 'decodes as the plain results');
  t.same(decodeFrame(encodeFrame({ results: marked })), { results: plain }, 'cbor-x writes the same value');
});
