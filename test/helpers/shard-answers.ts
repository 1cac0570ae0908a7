/**
 * A shard's answers one per request, as tests read them: the `replies` item of a turn (its
 * encoded batch and receive replies in one buffer, shard-messages.ts) becomes one `reply` per
 * request, its result decoded.
 */
import type { FromShard } from '../../src/actors/shard-messages.js';
import type { WireError } from '../../src/protocol/errors.js';
import { decodeFrame } from '../../src/protocol/codec.js';

export type ShardAnswer = { t: 'reply'; r: number; result: unknown; encoded: boolean } | { t: 'fail'; r: number; error: WireError };

export function answersOf(items: readonly FromShard[]): ShardAnswer[] {
  const out: ShardAnswer[] = [];
  for (const m of items) {
    if (m.t === 'reply') out.push({ t: 'reply', r: m.r, result: m.result, encoded: false });
    else if (m.t === 'fail') out.push(m);
    else if (m.t === 'replies') {
      let start = 0;
      m.rs.forEach((r, i) => {
        out.push({ t: 'reply', r, result: decodeFrame(m.bytes.subarray(start, m.ends[i])), encoded: true });
        start = m.ends[i]!;
      });
    }
  }
  return out;
}

/** The answer to request `r` among a turn's items, if there is one. */
export function answerTo(items: readonly FromShard[], r: number): ShardAnswer | undefined {
  return answersOf(items).find((a) => a.r === r);
}
