/**
 * Key layout of one shard's RocksDB (one instance per shard worker).
 *
 *   'M' qid(8) seq(8, big-endian)  → StoredMessage (binary header + body, message-record.ts): sentAt, visibleAt, meta, body
 *   'D' qid(8) seq(8, big-endian)  → DeliveryRecord (CBOR): receiveCount, firstReceivedAt
 *   'Q' qid(8)                     → QueueRecord (CBOR): name, attributes, createdAt, purgedBelow
 *   'S' qid(8)                     → next sequence number (8 bytes, big-endian), a high-water mark, then
 *                                    the delivered mark (8 bytes; absent in records of older versions):
 *                                    every message below it may have been delivered (queue-actor.ts),
 *                                    then the gone mark (8 bytes; absent in older records: 0): every
 *                                    message below it left the queue. Its 'M' and 'D' keys are garbage,
 *                                    skipped by recovery and cleared by range (acks in sequence order
 *                                    write this mark instead of one delete per message)
 *   'C' qid(8) gid(4) seq(8)       → GroupDeliveryRecord (CBOR): a stream consumer group's receive count
 *                                    of one message above its committed position (maxReceives survives a
 *                                    restart); `done` when the group dead-lettered it. Deleted when the
 *                                    group acknowledges the message or its committed position passes it.
 *   'F' qid(8) seq(8) [gid(4)]     → ForwardRecord (CBOR): a message on its way OUT of queue qid to
 *                                    another queue (dead-lettering, redrive); with gid: a copy that
 *                                    stream consumer group gid dead-lettered. Written in the same
 *                                    synced batch that removes the message from qid; deleted once
 *                                    the target's commit was acknowledged; replayed at recovery.
 *                                    Not cleared with its queue: a deleted queue's dead letters still
 *                                    leave.
 *   'X' qid(8) oqid(8) oseq(8) [ogid(4)] → '' : queue qid accepted forward (oqid, oseq[, ogid]). Makes a replayed
 *                                    forward idempotent; deleted once the source dropped its 'F'.
 *   'E' qid(8) dedupKey(utf8)      → DedupRecord (CBOR): a dedup id seen inside the dedup window.
 *   'G' qid(8) group(utf8)         → StreamGroupRecord (CBOR): a stream consumer group's committed position.
 *   'R' qid(8)                     → cluster mode only: the replication mark (epoch, seq), 2 × 8 bytes
 *                                    big-endian, of the last log entry this replica holds
 *
 * qid is a random 8-byte id given to a queue when it is created, so a queue that is deleted and
 * created again is a new incarnation: receipts of the old one never match the new one.
 * The prefixes sort C < D < E < F < G < M < Q < R < S < X, so each kind of record is one contiguous range, and within a
 * queue messages iterate in sequence order. Message and delivery records are separate keys so that
 * a delivery (receive count bump) rewrites a few bytes, not the body.
 * Every key of a queue starts with its prefix byte and qid: cluster replication (actors/replica-log.ts)
 * groups a batch's writes by those bytes, and a snapshot reads each prefix + qid range. Keep it so
 * for any new kind of record.
 * The 'S' high-water mark exists because sequence numbers are part of receipts: they must never be
 * reused after every message of a queue was deleted and the broker restarted. Recovery starts above
 * both the mark and the highest stored message, so the mark is written only when a message leaves
 * the store (or a sequence is used without a stored message), not with every send.
 */
export const PREFIX = { groupDelivery: 0x43, delivery: 0x44, dedup: 0x45, forward: 0x46, group: 0x47, message: 0x4d, queue: 0x51, replica: 0x52, nextSeq: 0x53, marker: 0x58 } as const;

export type Prefix = (typeof PREFIX)[keyof typeof PREFIX];

/** Parsed queue ids, so the hot path (a key per message) does not parse hex each time. Bounded. */
const qidCache = new Map<string, Buffer>();
const QID_CACHE_MAX = 100_000;

export function qidBytes(qid: string): Buffer {
  let b = qidCache.get(qid);
  if (b !== undefined) return b;
  b = Buffer.from(qid, 'hex');
  if (b.length !== 8 || b.toString('hex') !== qid.toLowerCase()) throw new Error(`queue id must be 16 hex digits, got ${qid}`);
  if (qidCache.size >= QID_CACHE_MAX) qidCache.clear();
  qidCache.set(qid, b);
  return b;
}

export function queueKey(prefix: Prefix, qid: string): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = prefix;
  qidBytes(qid).copy(key, 1);
  return key;
}

/** Writes `seq` (a safe integer, < 2^53) as 8 bytes big-endian without going through BigInt. */
export function writeSeq(b: Buffer, seq: number, offset: number): void {
  const hi = Math.floor(seq / 0x1_0000_0000);
  b.writeUInt32BE(hi, offset);
  b.writeUInt32BE(seq - hi * 0x1_0000_0000, offset + 4);
}

export function readSeq(b: Buffer, offset: number): number {
  return b.readUInt32BE(offset) * 0x1_0000_0000 + b.readUInt32BE(offset + 4);
}

export function messageKey(prefix: Prefix, qid: string, seq: number): Buffer {
  return writeMessageKey(Buffer.allocUnsafe(MESSAGE_KEY_BYTES), prefix, qid, seq);
}

export const MESSAGE_KEY_BYTES = 17;

/** messageKey written into `key` (MESSAGE_KEY_BYTES long), for a caller that reuses one buffer. */
export function writeMessageKey(key: Buffer, prefix: Prefix, qid: string, seq: number): Buffer {
  key[0] = prefix;
  const q = qidBytes(qid);
  for (let i = 0; i < 8; i++) key[1 + i] = q[i]!;
  writeSeq(key, seq, 9);
  return key;
}

/** Range of all keys of one kind for one queue. */
export function queueRange(prefix: Prefix, qid: string): { gte: Buffer; lt: Buffer } {
  return { gte: messageKey(prefix, qid, 0), lt: messageKey(prefix, qid, Number.MAX_SAFE_INTEGER) };
}

/** Range of every key with this prefix. */
export function prefixRange(prefix: Prefix): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.from([prefix]), lt: Buffer.from([prefix + 1]) };
}

export function parseMessageKey(key: Buffer): { qid: string; seq: number } {
  return { qid: key.subarray(1, 9).toString('hex'), seq: readSeq(key, 9) };
}

export function parseQueueKey(key: Buffer): string {
  return key.subarray(1, 9).toString('hex');
}

/** The 'S' value's three marks (see the layout above). */
export interface SeqMarks {
  nextSeq: number;
  deliveredBelow: number;
  goneBelow: number;
}

export function encodeSeqMarks(nextSeq: number, deliveredBelow: number, goneBelow: number): Buffer {
  const b = Buffer.allocUnsafe(24);
  writeSeq(b, nextSeq, 0);
  writeSeq(b, deliveredBelow, 8);
  writeSeq(b, goneBelow, 16);
  return b;
}

export function decodeSeqMarks(b: Buffer): SeqMarks {
  return { nextSeq: readSeq(b, 0), deliveredBelow: b.length >= 16 ? readSeq(b, 8) : 0, goneBelow: b.length >= 24 ? readSeq(b, 16) : 0 };
}

/**
 * Identity of one move out of a queue: the source queue, the sequence, and for a stream consumer
 * group's dead letter the group's id (two groups may dead-letter the same message: two moves).
 */
export interface ForwardId {
  qid: string;
  seq: number;
  gid?: number;
}

/** The in-memory spelling of a ForwardId (outbox bookkeeping, target markers). */
export function forwardIdString(f: ForwardId): string {
  return f.gid === undefined ? `${f.qid}:${f.seq}` : `${f.qid}:${f.seq}:${f.gid}`;
}

/** 'F' qid seq [gid]: the group's id is a 4-byte suffix, so queue-mode keys keep their layout. */
export function forwardKey(f: ForwardId): Buffer {
  const key = Buffer.allocUnsafe(f.gid === undefined ? 17 : 21);
  key[0] = PREFIX.forward;
  qidBytes(f.qid).copy(key, 1);
  writeSeq(key, f.seq, 9);
  if (f.gid !== undefined) key.writeUInt32BE(f.gid, 17);
  return key;
}

export function parseForwardKey(key: Buffer): ForwardId {
  const f: ForwardId = parseMessageKey(key);
  if (key.length === 21) f.gid = key.readUInt32BE(17);
  return f;
}

export function markerKey(qid: string, origin: ForwardId): Buffer {
  const key = Buffer.allocUnsafe(origin.gid === undefined ? 25 : 29);
  key[0] = PREFIX.marker;
  qidBytes(qid).copy(key, 1);
  qidBytes(origin.qid).copy(key, 9);
  writeSeq(key, origin.seq, 17);
  if (origin.gid !== undefined) key.writeUInt32BE(origin.gid, 25);
  return key;
}

export function parseMarkerKey(key: Buffer): { qid: string; origin: ForwardId } {
  const origin: ForwardId = { qid: key.subarray(9, 17).toString('hex'), seq: readSeq(key, 17) };
  if (key.length === 29) origin.gid = key.readUInt32BE(25);
  return { qid: key.subarray(1, 9).toString('hex'), origin };
}

/** 'C' qid gid seq: a stream group's receive count of one message. */
export function groupDeliveryKey(qid: string, gid: number, seq: number): Buffer {
  const key = Buffer.allocUnsafe(21);
  key[0] = PREFIX.groupDelivery;
  qidBytes(qid).copy(key, 1);
  key.writeUInt32BE(gid, 9);
  writeSeq(key, seq, 13);
  return key;
}

export function parseGroupDeliveryKey(key: Buffer): { qid: string; gid: number; seq: number } {
  return { qid: key.subarray(1, 9).toString('hex'), gid: key.readUInt32BE(9), seq: readSeq(key, 13) };
}

/** Every 'C' key of one group. */
export function groupDeliveryRange(qid: string, gid: number): { gte: Buffer; lt: Buffer } {
  return { gte: groupDeliveryKey(qid, gid, 0), lt: groupDeliveryKey(qid, gid, Number.MAX_SAFE_INTEGER) };
}

export function dedupKey(qid: string, id: string): Buffer {
  return Buffer.concat([queueKey(PREFIX.dedup, qid), Buffer.from(id, 'utf8')]);
}

export function parseDedupKey(key: Buffer): { qid: string; id: string } {
  return { qid: key.subarray(1, 9).toString('hex'), id: key.subarray(9).toString('utf8') };
}

/** Every key of one kind for one queue whose layout is prefix + qid + anything. */
export function queuePrefixRange(prefix: Prefix, qid: string): { gte: Buffer; lt: Buffer } {
  const gte = queueKey(prefix, qid);
  const lt = Buffer.from(gte);
  // Increment the 9-byte prefix as a big-endian number: the first key past every key starting with it.
  for (let i = lt.length - 1; i >= 0; i--) {
    if (lt[i] === 0xff) {
      lt[i] = 0;
      continue;
    }
    lt[i]!++;
    break;
  }
  return { gte, lt };
}

export function groupKey(qid: string, name: string): Buffer {
  return Buffer.concat([queueKey(PREFIX.group, qid), Buffer.from(name, 'utf8')]);
}
