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

/** The id function of one queue incarnation (the qid part is formatted once). */
export function messageIds(qid: string): (seq: number) => string {
  const q = qid.toLowerCase();
  const prefix = `${q.slice(0, 8)}-${q.slice(8, 12)}-8${q.slice(13, 16)}-`;
  return (seq) => {
    const high = Math.floor(seq / 0x1_0000_0000_0000); // bits 48–52 (seq < 2^53)
    return `${prefix}${(0x8000 + high).toString(16)}-${(seq - high * 0x1_0000_0000_0000).toString(16).padStart(12, '0')}`;
  };
}

export function messageIdOf(qid: string, seq: number): string {
  return messageIds(qid)(seq);
}
