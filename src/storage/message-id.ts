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
function idPrefix(qid: string): string {
  const q = qid.toLowerCase();
  return `${q.slice(0, 8)}-${q.slice(8, 12)}-8${q.slice(13, 16)}-`;
}

/** The id function of one queue incarnation (the qid part is formatted once). */
export function messageIds(qid: string): (seq: number) => string {
  const prefix = idPrefix(qid);
  return (seq) => {
    const high = Math.floor(seq / 0x1_0000_0000_0000); // bits 48–52 (seq < 2^53)
    return `${prefix}${(0x8000 + high).toString(16)}-${(seq - high * 0x1_0000_0000_0000).toString(16).padStart(12, '0')}`;
  };
}

/** Characters of every message id (ASCII). */
export const MESSAGE_ID_CHARS = 36;

const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/**
 * As `messageIds`, writing the id's 36 ASCII bytes at `at` in `out` instead of making a string
 * (a push writes one per message: the string, its concatenation and its encoding were ~5% of a
 * consuming shard worker).
 */
export function messageIdWriter(qid: string): (out: Uint8Array, at: number, seq: number) => void {
  const prefix = Uint8Array.from(idPrefix(qid), (c) => c.charCodeAt(0));
  const n = prefix.length;
  return (out, at, seq) => {
    for (let i = 0; i < n; i++) out[at + i] = prefix[i]!;
    const high = Math.floor(seq / 0x1_0000_0000_0000); // bits 48–52 (seq < 2^53)
    let p = at + n;
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
  };
}

export function messageIdOf(qid: string, seq: number): string {
  return messageIds(qid)(seq);
}
