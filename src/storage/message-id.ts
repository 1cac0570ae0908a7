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

const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * The id function of one queue incarnation. The qid part is written once into a 36-byte buffer
 * of the queue's; each id rewrites the sequence digits and reads the buffer as one flat string
 * (a shard makes one per sent message for its reply: the template-and-padStart form cost ~3× as
 * much, and its cons string was flattened again when the reply was encoded).
 */
export function messageIds(qid: string): (seq: number) => string {
  const q = qid.toLowerCase();
  const b = Buffer.from(`${q.slice(0, 8)}-${q.slice(8, 12)}-8${q.slice(13, 16)}-8000-000000000000`, 'latin1');
  return (seq) => {
    const high = Math.floor(seq / 0x1_0000_0000_0000); // bits 48–52 (seq < 2^53)
    const low = seq - high * 0x1_0000_0000_0000;
    let v = 0x8000 + high;
    for (let i = 22; i >= 19; i--, v >>>= 4) b[i] = HEX[v & 15]!;
    // The low 48 bits as two 24-bit halves: bit operations stay within 32 bits.
    let lo = low % 0x100_0000;
    let hi = (low - lo) / 0x100_0000;
    for (let i = 35; i >= 30; i--, lo >>>= 4) b[i] = HEX[lo & 15]!;
    for (let i = 29; i >= 24; i--, hi >>>= 4) b[i] = HEX[hi & 15]!;
    return (b as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(0, 36);
  };
}

export function messageIdOf(qid: string, seq: number): string {
  return messageIds(qid)(seq);
}
