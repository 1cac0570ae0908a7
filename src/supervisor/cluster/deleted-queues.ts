/**
 * The queues deleted while this node runs, for a while: late log entries and snapshots for them are
 * refused (docs/cluster.md, "What etcd holds": deleteQueue). Only a node that still believes it
 * leads a deleted queue sends those, and it stops once its etcd watch shows the deletion or its
 * lease lapses, within seconds. So a deleted queue is remembered for `keepMs` (minutes), not for
 * the life of the process: a node that creates and deletes queues all day keeps a bounded set.
 * An entry later than that would only leave a copy without a queue record, which the next start
 * discards (ShardHost.recover).
 */
export class DeletedQueues {
  /** qid → when it was deleted; in deletion order (a Map keeps insertion order), oldest first. */
  readonly #at = new Map<string, number>();
  readonly #keepMs: number;

  constructor(keepMs: number) {
    if (!Number.isFinite(keepMs) || keepMs <= 0) throw new RangeError(`keepMs must be a positive number of milliseconds, not ${keepMs}`);
    this.#keepMs = keepMs;
  }

  add(qid: string, now: number): void {
    this.#at.delete(qid);
    this.#at.set(qid, now);
    this.#forgetBefore(now - this.#keepMs);
  }

  has(qid: string, now: number): boolean {
    const at = this.#at.get(qid);
    return at !== undefined && at > now - this.#keepMs;
  }

  /** How many are remembered now. */
  get size(): number {
    return this.#at.size;
  }

  #forgetBefore(cutoff: number): void {
    for (const [qid, at] of this.#at) {
      if (at > cutoff) return;
      this.#at.delete(qid);
    }
  }
}
