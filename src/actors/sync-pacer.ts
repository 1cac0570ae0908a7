/**
 * When a shard worker may ask its syncer for the next sync: at most once per interval
 * (shard-worker.ts explains why). A pure clock rule, so the worker only arms a timer with it.
 */
export class SyncPacer {
  #lastAsked = -Infinity;

  constructor(readonly intervalMs: number) {
    if (!(intervalMs >= 0)) throw new RangeError('intervalMs must be a number ≥ 0');
  }

  /**
   * Ms to wait before a sync may be asked for; 0 means now, and the call counts as the ask (the
   * next one is measured from `now`).
   */
  wait(now: number): number {
    const wait = this.#lastAsked + this.intervalMs - now;
    if (wait > 0) return wait;
    this.#lastAsked = now;
    return 0;
  }
}
