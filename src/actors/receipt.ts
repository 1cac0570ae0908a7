/**
 * Receipt handles: opaque to clients, base64url of queue id (8), sequence (8), receive count (4),
 * and for a stream consumer group the group's id (4): 20 bytes (27 characters) in queue mode,
 * 24 bytes (32 characters) for a stream group.
 * The receive count names the delivery: once a message is delivered again its count moves on, and a
 * receipt of an earlier delivery no longer matches (ReceiptHandleExpired). The queue id names the
 * queue's incarnation, so a receipt of another queue, or of a deleted one, is ReceiptHandleIsInvalid.
 * The group id is random per group, so a receipt of a deleted group does not match a new one.
 */
export interface Receipt {
  qid: string;
  seq: number;
  receiveCount: number;
  /** Stream mode: the consumer group the delivery belongs to. */
  gid?: number;
}

export function encodeReceipt(r: Receipt): string {
  const b = Buffer.allocUnsafe(r.gid === undefined ? 20 : 24);
  b.write(r.qid, 0, 8, 'hex');
  b.writeBigUInt64BE(BigInt(r.seq), 8);
  b.writeUInt32BE(r.receiveCount, 16);
  if (r.gid !== undefined) b.writeUInt32BE(r.gid, 20);
  return b.toString('base64url');
}

/** Undefined when the string is not a receipt at all. */
export function decodeReceipt(s: string): Receipt | undefined {
  if ((s.length !== 27 && s.length !== 32) || !/^[A-Za-z0-9_-]+$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64url');
  if (b.length !== 20 && b.length !== 24) return undefined;
  const seq = b.readBigUInt64BE(8);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const r: Receipt = { qid: b.toString('hex', 0, 8), seq: Number(seq), receiveCount: b.readUInt32BE(16) };
  if (b.length === 24) r.gid = b.readUInt32BE(20);
  return r;
}
