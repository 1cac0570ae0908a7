/**
 * Receipt handles: opaque to clients, base64url of queue id (8), sequence (8), receive count (4),
 * and for a stream consumer group the group's id (4): 20 bytes (27 characters) in queue mode,
 * 24 bytes (32 characters) for a stream group.
 * The receive count names the delivery: once a message is delivered again its count moves on, and a
 * receipt of an earlier delivery no longer matches (ReceiptHandleExpired). The queue id names the
 * queue's incarnation, so a receipt of another queue, or of a deleted one, is ReceiptHandleIsInvalid.
 * The group id is random per group, so a receipt of a deleted group does not match a new one.
 */
import { qidBytes, readSeq, writeSeq } from '../storage/keys.js';

export interface Receipt {
  qid: string;
  seq: number;
  receiveCount: number;
  /** Stream mode: the consumer group the delivery belongs to. */
  gid?: number;
}

/** Scratch buffers (queue mode, stream mode): a receipt is encoded to a string at once, so they are never shared. */
const scratch20 = Buffer.alloc(20);
const scratch24 = Buffer.alloc(24);

export function encodeReceipt(r: Receipt): string {
  const b = r.gid === undefined ? scratch20 : scratch24;
  qidBytes(r.qid).copy(b, 0);
  writeSeq(b, r.seq, 8);
  b.writeUInt32BE(r.receiveCount, 16);
  if (r.gid !== undefined) b.writeUInt32BE(r.gid, 20);
  return b.toString('base64url');
}

/** Undefined when the string is not a receipt at all. */
export function decodeReceipt(s: string): Receipt | undefined {
  if ((s.length !== 27 && s.length !== 32) || !/^[A-Za-z0-9_-]+$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64url');
  if (b.length !== 20 && b.length !== 24) return undefined;
  // A sequence at or past 2^53 is not one we issued (the high word of a safe integer is < 2^21).
  if (b.readUInt32BE(8) >= 0x20_0000) return undefined;
  const r: Receipt = { qid: b.toString('hex', 0, 8), seq: readSeq(b, 8), receiveCount: b.readUInt32BE(16) };
  if (b.length === 24) r.gid = b.readUInt32BE(20);
  return r;
}
