/**
 * Sends per second into each partition this node leads, for the autoscaler's `rate` limit
 * (autoscaler.ts). Counted where the leader takes a partition's sends; kept as one-second buckets
 * over a short window, so a partition that stops receiving sends falls to 0 within the window.
 */
const BUCKET_MS = 1000;
const WINDOW_BUCKETS = 3;

interface Buckets {
  /** Start of the newest bucket, ms. */
  at: number;
  counts: number[];
}

export class SendRateMeter {
  readonly #byQid = new Map<string, Buckets>();

  note(qid: string, messages: number, now = Date.now()): void {
    const b = this.#roll(qid, now);
    b.counts[b.counts.length - 1]! += messages;
  }

  /** Messages per second over the completed buckets of the window (0 when none were counted). */
  rate(qid: string, now = Date.now()): number {
    const b = this.#roll(qid, now);
    const done = b.counts.slice(0, -1);
    const sum = done.reduce((a, c) => a + c, 0);
    return Math.round((sum * 1000) / (done.length * BUCKET_MS));
  }

  forget(qid: string): void {
    this.#byQid.delete(qid);
  }

  #roll(qid: string, now: number): Buckets {
    const start = now - (now % BUCKET_MS);
    let b = this.#byQid.get(qid);
    if (b === undefined) this.#byQid.set(qid, (b = { at: start, counts: new Array<number>(WINDOW_BUCKETS).fill(0) }));
    const steps = Math.min(WINDOW_BUCKETS, Math.max(0, (start - b.at) / BUCKET_MS));
    for (let i = 0; i < steps; i++) {
      b.counts.shift();
      b.counts.push(0);
    }
    b.at = start;
    return b;
  }
}
