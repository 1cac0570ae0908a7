/**
 * Receipt handles: opaque to clients, base64url of queue id (8), sequence (8), receive count (4)
 * and an issuer (4): 24 bytes, 32 characters.
 * The receive count names the delivery: once a message is delivered again its count moves on, and a
 * receipt of an earlier delivery no longer matches (ReceiptHandleExpired). The queue id names the
 * queue's incarnation, so a receipt of another queue, or of a deleted one, is ReceiptHandleIsInvalid.
 * The issuer is, in queue mode, the run of the queue's actor: a random number drawn each time the
 * actor starts (broker start, shard restart, cluster failover), so a receipt of an earlier run never
 * matches a delivery of this one even where receive counts were not persisted (they are persisted
 * only for a queue with a dead-letter queue: see queue-actor.ts). In stream mode it is the consumer
 * group's id, random per group, so a receipt of a deleted group does not match a new one.
 */
import { qidBytes, readSeq, writeSeq } from '../storage/keys.js';

export interface Receipt {
  qid: string;
  seq: number;
  receiveCount: number;
  /** Queue mode: the actor run that delivered it; stream mode: the consumer group's id. */
  issuer: number;
}

/** A receipt is encoded to a string at once, so the scratch buffer is never shared. */
const scratch = Buffer.alloc(24);

export function encodeReceipt(r: Receipt): string {
  const b = scratch;
  qidBytes(r.qid).copy(b, 0);
  writeSeq(b, r.seq, 8);
  b.writeUInt32BE(r.receiveCount, 16);
  b.writeUInt32BE(r.issuer, 20);
  return b.toString('base64url');
}

/** Undefined when the string is not a receipt at all. */
export function decodeReceipt(s: string): Receipt | undefined {
  if (s.length !== 32 || !/^[A-Za-z0-9_-]+$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64url');
  if (b.length !== 24) return undefined;
  // A sequence at or past 2^53 is not one we issued (the high word of a safe integer is < 2^21).
  if (b.readUInt32BE(8) >= 0x20_0000) return undefined;
  return { qid: b.toString('hex', 0, 8), seq: readSeq(b, 8), receiveCount: b.readUInt32BE(16), issuer: b.readUInt32BE(20) };
}
