/**
 * Receipt handles: opaque to clients, 20 bytes base64url: queue id (8), sequence (8), receive count (4).
 * The receive count names the delivery: once a message is delivered again its count moves on, and a
 * receipt of an earlier delivery no longer matches (ReceiptHandleExpired). The queue id names the
 * queue's incarnation, so a receipt of another queue, or of a deleted one, is ReceiptHandleIsInvalid.
 */
import { qidBytes, readSeq, writeSeq } from '../storage/keys.js';

export interface Receipt {
  qid: string;
  seq: number;
  receiveCount: number;
}

/** One scratch buffer: a receipt is encoded to a string at once, so it is never shared. */
const scratch = Buffer.alloc(20);

export function encodeReceipt(r: Receipt): string {
  qidBytes(r.qid).copy(scratch, 0);
  writeSeq(scratch, r.seq, 8);
  scratch.writeUInt32BE(r.receiveCount, 16);
  return scratch.toString('base64url');
}

/** Undefined when the string is not a receipt at all. */
export function decodeReceipt(s: string): Receipt | undefined {
  if (s.length !== 27 || !/^[A-Za-z0-9_-]+$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64url');
  if (b.length !== 20) return undefined;
  // A sequence at or past 2^53 is not one we issued (the high word of a safe integer is < 2^21).
  if (b.readUInt32BE(8) >= 0x20_0000) return undefined;
  return { qid: b.toString('hex', 0, 8), seq: readSeq(b, 8), receiveCount: b.readUInt32BE(16) };
}
