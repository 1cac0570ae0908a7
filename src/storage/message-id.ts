/**
 * Message ids: a UUID (RFC 9562 version 8, the vendor-specific layout) built from the queue's
 * incarnation id and the message's sequence, instead of 16 random bytes per message:
 *
 *   qid bytes 0–5 │ 8 + qid byte 6 low nibble, qid byte 7 │ 0x80 (variant 10), seq bits 48–55 │ seq bits 0–47
 *
 * Unique because qid is random per queue incarnation (60 of its 64 bits survive) and seq is never
 * reused within one (recovery starts above the highest stored message and the 'S' high-water mark,
 * which a queue stages whenever a message leaves the store: queue-actor.ts #unstore). Nothing needs to store it: the record of a
 * message is found by (qid, seq), and the id is computed again on delivery or recovery.
 */

/** The part of every id of queue `qid` before the sequence: 19 characters. */
function idPrefix(qid: string): Uint8Array {
  const q = qid.toLowerCase();
  return Uint8Array.from(`${q.slice(0, 8)}-${q.slice(8, 12)}-8${q.slice(13, 16)}-`, (c) => c.charCodeAt(0));
}

/** Characters of every message id (ASCII). */
export const MESSAGE_ID_CHARS = 36;
const PREFIX_CHARS = 19;

const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/** Writes the id's last 17 characters (`8hhh-llllllllllll`, from the sequence) at `at` in `out`. */
function writeSeqPart(out: Uint8Array, at: number, seq: number): void {
  const high = Math.floor(seq / 0x1_0000_0000_0000); // bits 48–52 (seq < 2^53)
  let p = at;
  // 0x8000 + high: always four hex digits.
  out[p++] = HEX[8]!;
  out[p++] = HEX[0]!;
  out[p++] = HEX[high >>> 4]!;
  out[p++] = HEX[high & 15]!;
  out[p++] = 0x2d; // '-'
  // The low 48 bits as 12 hex digits: two halves of 24 bits, exact in 32-bit integer arithmetic.
  const low = seq - high * 0x1_0000_0000_0000;
  const hi24 = Math.floor(low / 0x100_0000);
  const lo24 = low - hi24 * 0x100_0000;
  for (let k = 5; k >= 0; k--) out[p + 5 - k] = HEX[(hi24 >>> (4 * k)) & 15]!;
  for (let k = 5; k >= 0; k--) out[p + 11 - k] = HEX[(lo24 >>> (4 * k)) & 15]!;
}

/**
 * The id function of one queue incarnation. The qid part is written once into a 36-byte buffer
 * of the queue's; each id rewrites the sequence digits and reads the buffer as one flat string
 * (a shard makes one per sent message for its reply: the template-and-padStart form cost ~3× as
 * much, and its cons string was flattened again when the reply was encoded).
 */
export function messageIds(qid: string): (seq: number) => string {
  const b = Buffer.alloc(MESSAGE_ID_CHARS);
  b.set(idPrefix(qid), 0);
  return (seq) => {
    writeSeqPart(b, PREFIX_CHARS, seq);
    return (b as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(0, MESSAGE_ID_CHARS);
  };
}

/**
 * As `messageIds`, writing the id's 36 ASCII bytes at `at` in `out` instead of making a string
 * (a push writes one per message: the string, its concatenation and its encoding were ~5% of a
 * consuming shard worker).
 */
export function messageIdWriter(qid: string): (out: Uint8Array, at: number, seq: number) => void {
  const prefix = idPrefix(qid);
  return (out, at, seq) => {
    out.set(prefix, at);
    writeSeqPart(out, at + PREFIX_CHARS, seq);
  };
}

export function messageIdOf(qid: string, seq: number): string {
  return messageIds(qid)(seq);
}
