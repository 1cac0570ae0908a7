/**
 * Receipt handles: opaque to clients, 20 bytes base64url: queue id (8), sequence (8), receive count (4).
 * The receive count names the delivery: once a message is delivered again its count moves on, and a
 * receipt of an earlier delivery no longer matches (ReceiptHandleExpired). The queue id names the
 * queue's incarnation, so a receipt of another queue, or of a deleted one, is ReceiptHandleIsInvalid.
 */
export interface Receipt {
  qid: string;
  seq: number;
  receiveCount: number;
}

export function encodeReceipt(r: Receipt): string {
  const b = Buffer.allocUnsafe(20);
  b.write(r.qid, 0, 8, 'hex');
  b.writeBigUInt64BE(BigInt(r.seq), 8);
  b.writeUInt32BE(r.receiveCount, 16);
  return b.toString('base64url');
}

/** Undefined when the string is not a receipt at all. */
export function decodeReceipt(s: string): Receipt | undefined {
  if (s.length !== 27 || !/^[A-Za-z0-9_-]+$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64url');
  if (b.length !== 20) return undefined;
  const seq = b.readBigUInt64BE(8);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { qid: b.toString('hex', 0, 8), seq: Number(seq), receiveCount: b.readUInt32BE(16) };
}
