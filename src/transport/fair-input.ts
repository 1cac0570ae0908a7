/**
 * FairInput: the order in which the main thread handles what its connections sent, so that one
 * connection's bulk does not delay another's requests (the isolation scenario of issue 5: a light
 * queue's one-message sends beside producers that keep ~1 MB of batches in flight each).
 *
 * uWS hands the main thread every WebSocket message it read in one poll phase, and handling them
 * all at once (decode, validate, route) made a light connection's message wait behind every
 * saturating producer's batches, then behind them again in the shard pool's flush and in the
 * sessions' flush of that iteration (loadtest/analysis.md, sixth session, "isolation").
 *
 * The rule, a pure state machine over opaque connections and items:
 * - A connection may have `perConnectionBytes` handled at once per round (a round ends when the
 *   scheduled `pump` runs, i.e. once per event-loop iteration while there is input). A message of a
 *   connection with nothing queued and budget left is handled at once (`offer` returns true), as
 *   before: a connection that sends little never waits here.
 * - Past its budget, or while it has messages queued, a connection's messages queue, in order.
 * - `pump` resets every budget and hands out queued messages round robin (one per connection per
 *   pass) until `sliceBytes` are handed out (at least one message); the rest waits for the next
 *   pump, which the caller schedules when `pending` is true. Between two pumps the event loop polls
 *   again, so other connections' messages and the shards' answers get their turn.
 *
 * Nothing is dropped or reordered within a connection; `forget` drops a closed connection's queue.
 */
import { Deque } from '../actors/deque.js';

export interface FairInputOptions {
  /** Bytes of one connection handled at once per round before its further messages queue. */
  perConnectionBytes: number;
  /** Bytes of queued messages one pump hands out (at least one message). */
  sliceBytes: number;
}

interface Lane<T> {
  /** Bytes handled at once in this round. */
  used: number;
  /** Whether it is in #used (budget to reset at the next pump). */
  counted: boolean;
  queue: Deque<{ item: T; bytes: number }>;
  /** Whether it is in the round robin (has queued messages). */
  waiting: boolean;
}

export class FairInput<C, T> {
  readonly #opts: FairInputOptions;
  readonly #lanes = new Map<C, Lane<T>>();
  /** Connections with queued messages, in round-robin order. */
  #ring = new Deque<C>();
  /** Lanes that used budget this round (reset by `pump`). */
  #used: Lane<T>[] = [];

  constructor(opts: FairInputOptions) {
    this.#opts = opts;
  }

  /**
   * A message of `bytes` from `conn`: true when the caller should handle it now, false when it was
   * queued (a later `pump` hands it out).
   */
  offer(conn: C, item: T, bytes: number): boolean {
    let lane = this.#lanes.get(conn);
    if (lane === undefined) this.#lanes.set(conn, (lane = { used: 0, counted: false, queue: new Deque(), waiting: false }));
    if (!lane.waiting && lane.used < this.#opts.perConnectionBytes) {
      if (!lane.counted) {
        lane.counted = true;
        this.#used.push(lane);
      }
      lane.used += bytes;
      return true;
    }
    lane.queue.push({ item, bytes });
    if (!lane.waiting) {
      lane.waiting = true;
      this.#ring.push(conn);
    }
    return false;
  }

  /** Whether a pump is needed: queued messages, or budgets used this round. */
  get pending(): boolean {
    return this.#ring.length > 0 || this.#used.length > 0;
  }

  /** Whether `conn` has messages queued. */
  waiting(conn: C): boolean {
    return this.#lanes.get(conn)?.waiting === true;
  }

  /** Ends the round and hands out queued messages, round robin, up to `sliceBytes` (at least one). */
  pump(): Array<[C, T]> {
    for (const lane of this.#used) {
      lane.used = 0;
      lane.counted = false;
    }
    this.#used = [];
    const out: Array<[C, T]> = [];
    let bytes = 0;
    while (this.#ring.length > 0 && (out.length === 0 || bytes < this.#opts.sliceBytes)) {
      const conn = this.#ring.shift()!;
      const lane = this.#lanes.get(conn)!;
      const next = lane.queue.shift()!;
      out.push([conn, next.item]);
      bytes += next.bytes;
      if (lane.queue.length > 0) this.#ring.push(conn);
      else lane.waiting = false;
    }
    return out;
  }

  /** A connection closed: its queued messages go, and it leaves the round robin. */
  forget(conn: C): void {
    const lane = this.#lanes.get(conn);
    if (lane === undefined) return;
    this.#lanes.delete(conn);
    if (lane.waiting) {
      const ring = new Deque<C>();
      this.#ring.forEach((c) => {
        if (c !== conn) ring.push(c);
      });
      this.#ring = ring;
    }
  }
}
