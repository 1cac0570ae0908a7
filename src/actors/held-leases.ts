/**
 * The leases one push subscription holds, for the one time they are all needed: its socket
 * closed, and each must end now. Kept as the deliveries that made them (the sequence array of each
 * push, shared with the lease-end heap) and a count, not as a set of sequences: a set cost an add
 * and a delete per pushed message (profiled at 4% of the shard in consume ×16), this an array
 * push per push and a decrement per ended lease.
 *
 * The deliveries are a superset of what is held (an acked message stays in its delivery's array):
 * whoever reads them checks each message's holder. Once they hold more than twice the leases
 * held (plus slack), they are replaced by one array of the held ones: amortised O(1).
 */
const SLACK = 1024;

export class HeldLeases {
  #deliveries: number[][] = [];
  /** Sequences in #deliveries. */
  #seqs = 0;
  /** Leases held now. */
  #held = 0;

  get held(): number {
    return this.#held;
  }

  /**
   * A delivery leased `seqs` to this holder. `stillHeld(seq)` says whether this holder still
   * holds the lease of `seq` (used to drop deliveries that hold nothing any more).
   */
  added(seqs: number[], stillHeld: (seq: number) => boolean): void {
    this.#deliveries.push(seqs);
    this.#seqs += seqs.length;
    this.#held += seqs.length;
    if (this.#seqs > 2 * this.#held + SLACK) {
      // A new array of what is held: the deliveries' arrays are shared with the lease-end heap.
      const kept: number[] = [];
      for (const d of this.#deliveries) for (const seq of d) if (stillHeld(seq)) kept.push(seq);
      this.#deliveries = [kept];
      this.#seqs = kept.length;
    }
  }

  /** One lease of this holder ended (acked, expired, released, removed). */
  ended(): void {
    this.#held--;
  }

  /** Every sequence this holder may hold a lease on (each to be checked), in delivery order. */
  *candidates(): Generator<number> {
    for (const d of this.#deliveries) yield* d;
  }

  /** Every lease ended at once (purge). */
  clear(): void {
    this.#deliveries = [];
    this.#seqs = 0;
    this.#held = 0;
  }
}
