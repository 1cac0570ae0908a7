/**
 * Drains a queue through the client SDK: receive (long lease, no wait) + deleteBatch until a
 * receive comes back empty. Returns every message seen (body as text, receive count), in delivery
 * order, with repeats kept so callers can check "exactly once". Bounded in rounds and time.
 */
import type { FerryClient } from '../../src/client/index.js';

export interface DrainOptions {
  /** Lease of drained messages: long, so nothing comes back while the drain runs. Default 120 s. */
  visibilityMs?: number;
  /** Receives at most. Default 1000 (× 1000 messages). */
  maxRounds?: number;
  /** Per-request timeout for the whole drain's requests. Default 10 s each. */
  timeoutMs?: number;
}

export interface Drained {
  body: string;
  receiveCount: number;
}

export async function drainQueue(client: FerryClient, queue: string, opts: DrainOptions = {}): Promise<Drained[]> {
  const q = client.queue(queue);
  const bodies: Drained[] = [];
  const timeoutMs = opts.timeoutMs ?? 10_000;
  for (let round = 0; round < (opts.maxRounds ?? 1000); round++) {
    const got = await client.request('receive', { queue, max: 1000, visibilityMs: opts.visibilityMs ?? 120_000, waitMs: 0 }, { timeoutMs });
    if (got.messages.length === 0) return bodies;
    for (const m of got.messages) bodies.push({ body: Buffer.from(m.body).toString(), receiveCount: m.receiveCount });
    const results = await q.deleteBatch(got.messages.map((m) => m.receipt));
    const failed = results.filter((r) => !('ok' in r) || !r.ok.deleted);
    if (failed.length > 0) throw new Error(`drain of ${queue}: ${failed.length} deletes failed: ${JSON.stringify(failed[0])}`);
  }
  throw new Error(`drain of ${queue}: still not empty after ${opts.maxRounds ?? 1000} receives`);
}

/** How many times each string occurs. */
export function countOf(items: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of items) counts.set(s, (counts.get(s) ?? 0) + 1);
  return counts;
}
