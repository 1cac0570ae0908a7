/**
 * The stored form of a message ('M' value, keys.ts): a fixed binary header and the body, so
 * storing or reading one is a few byte copies, not a CBOR encode of a map around the body.
 *
 *   0       0xF1 (format 1; a CBOR map, the form of older records, never starts with it)
 *   1       flags: 1 = an explicit id follows (records of older versions), 2 = meta follows
 *   2–9     sentAt, float64 big-endian (ms since the epoch)
 *   10–17   visibleAt, float64 big-endian
 *   [id]    u8 length + UTF-8
 *   [meta]  u32 length + CBOR map {attributes?, ttlMs?, groupId?, dedupKey?, timestamp?, producer?, late?, deadLetter?}
 *   rest    the body
 *
 * Without an explicit id, the message id is derived from (queue id, seq) (message-id.ts).
 * Records written as CBOR by older versions are still read.
 */
import { Encoder } from 'cbor-x';
import type { StoredMessage } from './records.js';

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true, tagUint8Array: false });

const FORMAT_1 = 0xf1;
const HAS_ID = 1;
const HAS_META = 2;
const HEADER = 18;

/** The fields of a StoredMessage that the header and the body hold; any other goes into meta. */
const OWN = new Set(['id', 'sentAt', 'visibleAt', 'body']);

/**
 * The record of `m`, in a buffer from `alloc` (by default one of its own). A message without
 * optional fields (the common case) is written without building the meta object first.
 */
export function encodeMessage(m: StoredMessage, alloc: (size: number) => Buffer = Buffer.allocUnsafe): Buffer {
  const { id, sentAt, visibleAt, body } = m;
  let flags = 0;
  let size = HEADER + body.byteLength;
  let idBytes: Buffer | undefined;
  let metaBytes: Uint8Array | undefined;
  if (id !== undefined) {
    idBytes = Buffer.from(id, 'utf8');
    if (idBytes.length > 255) throw new RangeError('a stored message id is at most 255 bytes');
    flags |= HAS_ID;
    size += 1 + idBytes.length;
  }
  let meta: Record<string, unknown> | undefined;
  for (const k in m) {
    const v = (m as unknown as Record<string, unknown>)[k];
    if (v !== undefined && !OWN.has(k)) (meta ??= {})[k] = v;
  }
  if (meta !== undefined) {
    metaBytes = cbor.encode(meta);
    flags |= HAS_META;
    size += 4 + metaBytes.byteLength;
  }
  const b = alloc(size);
  b[0] = FORMAT_1;
  b[1] = flags;
  b.writeDoubleBE(sentAt, 2);
  b.writeDoubleBE(visibleAt, 10);
  let at = HEADER;
  if (idBytes !== undefined) {
    b[at++] = idBytes.length;
    at += idBytes.copy(b, at);
  }
  if (metaBytes !== undefined) {
    b.writeUInt32BE(metaBytes.byteLength, at);
    b.set(metaBytes, at + 4);
    at += 4 + metaBytes.byteLength;
  }
  b.set(body, at);
  return b;
}

/** The body is a view into `b` (no copy): `b` must not be reused by its owner. */
export function decodeMessage(b: Buffer): StoredMessage {
  if (b[0] !== FORMAT_1) return cbor.decode(b) as StoredMessage;
  const flags = b[1]!;
  const m: StoredMessage = { sentAt: b.readDoubleBE(2), visibleAt: b.readDoubleBE(10), body: EMPTY };
  let at = HEADER;
  if ((flags & HAS_ID) !== 0) {
    const n = b[at]!;
    m.id = b.toString('utf8', at + 1, at + 1 + n);
    at += 1 + n;
  }
  if ((flags & HAS_META) !== 0) {
    const n = b.readUInt32BE(at);
    Object.assign(m, cbor.decode(b.subarray(at + 4, at + 4 + n)) as Partial<StoredMessage>);
    at += 4 + n;
  }
  m.body = b.subarray(at);
  return m;
}

const EMPTY = new Uint8Array(0);
