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
 *
 * Every delivery makes one and every ack reads one, so both directions work on numbers and one
 * scratch buffer with a base64url table (RFC 4648 §5): no Buffer per receipt, no regular
 * expression, no hex string of the queue id (profiled: those were ~2 µs per acked message of a
 * shard worker's time).
 */
import { Limits } from '../protocol/limits.js';
import { qidBytes } from '../storage/keys.js';

export interface Receipt {
  qid: string;
  seq: number;
  receiveCount: number;
  /** Queue mode: the actor run that delivered it; stream mode: the consumer group's id. */
  issuer: number;
}

/** A receipt read into numbers: the queue id as its two 32-bit halves. */
export interface ReceiptFields {
  qidHi: number;
  qidLo: number;
  seq: number;
  receiveCount: number;
  issuer: number;
}

/** A receipt is 24 bytes as 32 base64url characters (no padding: 24 is a multiple of 3). */
const RECEIPT_BYTES = 24;
export const RECEIPT_CHARS = Limits.receiptChars;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ENC = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
/** Character code → 6-bit value, 0xff for a character outside the alphabet. */
const DEC = new Uint8Array(256).fill(0xff);
for (let i = 0; i < 64; i++) DEC[ENC[i]!] = i;

/** Scratch: the 24 bytes, and their 32 characters. Used within one call only. */
const bytes = new Uint8Array(RECEIPT_BYTES);
const chars = Buffer.alloc(RECEIPT_CHARS);

/** The halves of a queue id (16 hex digits), for comparing with ReceiptFields. */
export function qidHalves(qid: string): { hi: number; lo: number } {
  const b = qidBytes(qid);
  return { hi: b.readUInt32BE(0), lo: b.readUInt32BE(4) };
}

function put32(at: number, v: number): void {
  bytes[at] = v >>> 24;
  bytes[at + 1] = v >>> 16;
  bytes[at + 2] = v >>> 8;
  bytes[at + 3] = v;
}

function get32(at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** The receipt's 32 ASCII characters, written into `out` at `offset` (out must have room). */
export function writeReceipt(out: Uint8Array, offset: number, qidHi: number, qidLo: number, seq: number, receiveCount: number, issuer: number): void {
  const seqHi = Math.floor(seq / 0x1_0000_0000);
  put32(0, qidHi);
  put32(4, qidLo);
  put32(8, seqHi);
  put32(12, seq - seqHi * 0x1_0000_0000);
  put32(16, receiveCount);
  put32(20, issuer);
  for (let i = 0, o = offset; i < RECEIPT_BYTES; i += 3, o += 4) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o] = ENC[n >>> 18]!;
    out[o + 1] = ENC[(n >>> 12) & 63]!;
    out[o + 2] = ENC[(n >>> 6) & 63]!;
    out[o + 3] = ENC[n & 63]!;
  }
}

/** The receipt as a string, from the queue id's halves (see qidHalves). */
export function receiptString(qidHi: number, qidLo: number, seq: number, receiveCount: number, issuer: number): string {
  writeReceipt(chars, 0, qidHi, qidLo, seq, receiveCount, issuer);
  return chars.toString('latin1', 0, RECEIPT_CHARS);
}

export function encodeReceipt(r: Receipt): string {
  const { hi, lo } = qidHalves(r.qid);
  return receiptString(hi, lo, r.seq, r.receiveCount, r.issuer);
}

/**
 * The fields of receipt `s`, or undefined when it is not a receipt at all: not 32 characters of
 * the base64url alphabet, or a sequence at or past 2^53 (never issued: the high word of a safe
 * integer is < 2^21).
 */
export function readReceipt(s: string): ReceiptFields | undefined {
  if (s.length !== RECEIPT_CHARS) return undefined;
  for (let i = 0, o = 0; i < RECEIPT_CHARS; i += 4, o += 3) {
    if (!putQuad(o, s.charCodeAt(i), s.charCodeAt(i + 1), s.charCodeAt(i + 2), s.charCodeAt(i + 3))) return undefined;
  }
  return fields();
}

/**
 * As `readReceipt`, for the receipt written as 32 ASCII bytes at `at` in `b` (deleteReceipts carries
 * its receipts so: no string per receipt on either side). `b` must hold 32 bytes from `at`.
 */
export function readReceiptBytes(b: Uint8Array, at: number): ReceiptFields | undefined {
  for (let i = at, o = 0; o < RECEIPT_BYTES; i += 4, o += 3) {
    if (!putQuad(o, b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!)) return undefined;
  }
  return fields();
}

/** Four base64url character codes into three scratch bytes at `o`; false if one is outside the alphabet. */
function putQuad(o: number, c0: number, c1: number, c2: number, c3: number): boolean {
  if ((c0 | c1 | c2 | c3) > 0xff) return false;
  const a = DEC[c0]!;
  const b = DEC[c1]!;
  const c = DEC[c2]!;
  const d = DEC[c3]!;
  if ((a | b | c | d) > 63) return false; // outside the alphabet (0xff)
  const n = (a << 18) | (b << 12) | (c << 6) | d;
  bytes[o] = n >>> 16;
  bytes[o + 1] = n >>> 8;
  bytes[o + 2] = n;
  return true;
}

/** The scratch bytes' fields, or undefined for a sequence no receipt carries. */
function fields(): ReceiptFields | undefined {
  const seqHi = get32(8);
  if (seqHi >= 0x20_0000) return undefined;
  return { qidHi: get32(0), qidLo: get32(4), seq: seqHi * 0x1_0000_0000 + get32(12), receiveCount: get32(16), issuer: get32(20) };
}

/** Undefined when the string is not a receipt at all. */
export function decodeReceipt(s: string): Receipt | undefined {
  const r = readReceipt(s);
  if (r === undefined) return undefined;
  const qid = r.qidHi.toString(16).padStart(8, '0') + r.qidLo.toString(16).padStart(8, '0');
  return { qid, seq: r.seq, receiveCount: r.receiveCount, issuer: r.issuer };
}
