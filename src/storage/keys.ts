/**
 * Key layout of one shard's RocksDB (one instance per shard worker).
 *
 *   'M' qid(8) seq(8, big-endian)  → StoredMessage (CBOR): id, sentAt, visibleAt, body, attributes
 *   'D' qid(8) seq(8, big-endian)  → DeliveryRecord (CBOR): receiveCount, firstReceivedAt
 *   'Q' qid(8)                     → QueueRecord (CBOR): name, attributes, createdAt, purgedBelow
 *   'S' qid(8)                     → next sequence number (8 bytes, big-endian), a high-water mark
 *   'R' qid(8)                     → cluster mode only: the replication mark (epoch, seq), 2 × 8 bytes
 *                                    big-endian, of the last log entry this replica holds
 *
 * qid is a random 8-byte id given to a queue when it is created, so a queue that is deleted and
 * created again is a new incarnation: receipts of the old one never match the new one.
 * The prefixes sort D < M < Q < R < S, so each kind of record is one contiguous range, and within a
 * queue messages iterate in sequence order. Message and delivery records are separate keys so that
 * a delivery (receive count bump) rewrites a few bytes, not the body.
 * Every key of a queue starts with its prefix byte and qid: cluster replication (actors/replica-log.ts)
 * groups a batch's writes by those bytes, and a snapshot reads each prefix + qid range. Keep it so
 * for any new kind of record.
 * The 'S' high-water mark exists because sequence numbers are part of receipts: they must never be
 * reused after every message of a queue was deleted and the broker restarted.
 */
export const PREFIX = { delivery: 0x44, message: 0x4d, queue: 0x51, replica: 0x52, nextSeq: 0x53 } as const;

export type Prefix = (typeof PREFIX)[keyof typeof PREFIX];

export function qidBytes(qid: string): Buffer {
  const b = Buffer.from(qid, 'hex');
  if (b.length !== 8) throw new Error(`queue id must be 16 hex digits, got ${qid}`);
  return b;
}

export function queueKey(prefix: Prefix, qid: string): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = prefix;
  qidBytes(qid).copy(key, 1);
  return key;
}

export function messageKey(prefix: Prefix, qid: string, seq: number): Buffer {
  const key = Buffer.allocUnsafe(17);
  key[0] = prefix;
  qidBytes(qid).copy(key, 1);
  key.writeBigUInt64BE(BigInt(seq), 9);
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
  return { qid: key.subarray(1, 9).toString('hex'), seq: Number(key.readBigUInt64BE(9)) };
}

export function parseQueueKey(key: Buffer): string {
  return key.subarray(1, 9).toString('hex');
}

export function encodeSeq(seq: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(seq));
  return b;
}
