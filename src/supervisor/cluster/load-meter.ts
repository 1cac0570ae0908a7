/**
 * Per-queue load of the queues this node leads, for the supervisor's rebalancer: messages and body
 * bytes per second, in and out (sends, received messages, deletes). The front end counts every
 * request it serves locally (cluster-node.ts); the supervisor samples the rates over a peer call.
 * Pushes to subscriptions are not counted yet (docs/cluster.md, limits).
 */

/** Rates of one queue, per second. */
export interface QueueLoad {
  msgs: number;
  bytes: number;
}

/** One number per queue to compare: a KiB of bodies weighs as much as one message. */
export function loadScore(l: QueueLoad | undefined): number {
  return l === undefined ? 0 : l.msgs + l.bytes / 1024;
}

export class LoadMeter {
  #counts = new Map<string, QueueLoad>();
  #since: number;

  constructor(now = Date.now()) {
    this.#since = now;
  }

  note(queue: string, msgs: number, bytes: number): void {
    const c = this.#counts.get(queue);
    if (c === undefined) this.#counts.set(queue, { msgs, bytes });
    else {
      c.msgs += msgs;
      c.bytes += bytes;
    }
  }

  /** Rates since the previous sample; starts a new window. */
  sample(now = Date.now()): Record<string, QueueLoad> {
    const seconds = Math.max(0.001, (now - this.#since) / 1000);
    const out: Record<string, QueueLoad> = {};
    for (const [queue, c] of this.#counts) out[queue] = { msgs: c.msgs / seconds, bytes: c.bytes / seconds };
    this.#counts = new Map();
    this.#since = now;
    return out;
  }
}
