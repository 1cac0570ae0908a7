/**
 * The dedup window of a queue: a send whose dedup id (its `dedupId`, or with contentDedup the
 * SHA-256 of its body) was accepted less than `dedupWindowMs` ago is accepted again without a
 * second copy, and answered with the first copy's messageId and seq plus `duplicate: true`.
 * Ids are remembered in acceptance order, so expired ones are pruned from the front in O(1) each.
 * The window outlives the messages (an id is remembered after its message was deleted) and is
 * persisted ('E' keys) so a restart does not forget it.
 */
import { createHash } from 'node:crypto';
import type { DedupRecord } from '../storage/records.js';
import { Deque } from './deque.js';

export class DedupWindow {
  readonly #seen = new Map<string, DedupRecord>();
  readonly #order = new Deque<string>();

  get size(): number {
    return this.#seen.size;
  }

  /** The first copy, if `id` was accepted inside the window. */
  lookup(id: string, now: number, windowMs: number): DedupRecord | undefined {
    const hit = this.#seen.get(id);
    return hit !== undefined && now - hit.at < windowMs ? hit : undefined;
  }

  remember(id: string, record: DedupRecord): void {
    if (!this.#seen.has(id)) this.#order.push(id);
    this.#seen.set(id, record);
  }

  /** Forgets ids older than the window; returns them so the caller can delete their records. */
  prune(now: number, windowMs: number): string[] {
    const gone: string[] = [];
    for (let id = this.#order.peek(); id !== undefined; id = this.#order.peek()) {
      const rec = this.#seen.get(id);
      if (rec !== undefined && now - rec.at < windowMs) break;
      this.#order.shift();
      this.#seen.delete(id);
      gone.push(id);
    }
    return gone;
  }

  clear(): void {
    this.#seen.clear();
    this.#order.clear();
  }
}

/** The dedup id of a send: its dedupId, else (contentDedup) the body's SHA-256, else none. */
export function dedupIdOf(dedupId: string | undefined, body: Uint8Array, contentDedup: boolean): string | undefined {
  if (dedupId !== undefined) return `i:${dedupId}`;
  if (contentDedup) return `h:${createHash('sha256').update(body).digest('base64url')}`;
  return undefined;
}
