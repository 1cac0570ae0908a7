/**
 * Key layout of one shard's RocksDB (one instance per shard worker).
 *
 *   'M' qid(8) seq(8, big-endian)  → StoredMessage (CBOR): id, sentAt, visibleAt, body, attributes
 *   'D' qid(8) seq(8, big-endian)  → DeliveryRecord (CBOR): receiveCount, firstReceivedAt
 *   'Q' qid(8)                     → QueueRecord (CBOR): name, attributes, createdAt, purgedBelow
 *   'S' qid(8)                     → next sequence number (8 bytes, big-endian), a high-water mark
 *   'F' qid(8) seq(8)              → ForwardRecord (CBOR): a message on its way OUT of queue qid to
 *                                    another queue (dead-lettering, redrive). Written in the same
 *                                    synced batch that removes the message from qid; deleted once
 *                                    the target's commit was acknowledged; replayed at recovery.
 *                                    Not cleared with its queue: a deleted queue's dead letters still
 *                                    leave.
 *   'X' qid(8) oqid(8) oseq(8)     → '' : queue qid accepted forward (oqid, oseq). Makes a replayed
 *                                    forward idempotent; deleted once the source dropped its 'F'.
 *   'E' qid(8) dedupKey(utf8)      → DedupRecord (CBOR): a dedup id seen inside the dedup window.
 *   'G' qid(8) group(utf8)         → StreamGroupRecord (CBOR): a stream consumer group's committed position.
 *   'R' qid(8)                     → cluster mode only: the replication mark (epoch, seq), 2 × 8 bytes
 *                                    big-endian, of the last log entry this replica holds
 *
 * qid is a random 8-byte id given to a queue when it is created, so a queue that is deleted and
 * created again is a new incarnation: receipts of the old one never match the new one.
 * The prefixes sort D < E < F < G < M < Q < R < S < X, so each kind of record is one contiguous range, and within a
 * queue messages iterate in sequence order. Message and delivery records are separate keys so that
 * a delivery (receive count bump) rewrites a few bytes, not the body.
 * Every key of a queue starts with its prefix byte and qid: cluster replication (actors/replica-log.ts)
 * groups a batch's writes by those bytes, and a snapshot reads each prefix + qid range. Keep it so
 * for any new kind of record.
 * The 'S' high-water mark exists because sequence numbers are part of receipts: they must never be
 * reused after every message of a queue was deleted and the broker restarted.
 */
export const PREFIX = { delivery: 0x44, dedup: 0x45, forward: 0x46, group: 0x47, message: 0x4d, queue: 0x51, replica: 0x52, nextSeq: 0x53, marker: 0x58 } as const;

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
  const key = Buffer.allocUnsafe(17);
  key[0] = prefix;
  qidBytes(qid).copy(key, 1);
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

export function encodeSeq(seq: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeSeq(b, seq, 0);
  return b;
}

export function markerKey(qid: string, originQid: string, originSeq: number): Buffer {
  const key = Buffer.allocUnsafe(25);
  key[0] = PREFIX.marker;
  qidBytes(qid).copy(key, 1);
  qidBytes(originQid).copy(key, 9);
  key.writeBigUInt64BE(BigInt(originSeq), 17);
  return key;
}

export function parseMarkerKey(key: Buffer): { qid: string; originQid: string; originSeq: number } {
  return { qid: key.subarray(1, 9).toString('hex'), originQid: key.subarray(9, 17).toString('hex'), originSeq: Number(key.readBigUInt64BE(17)) };
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
