/**
 * When the actors of a shard next need a tick (shard-host.ts): a binary min-heap of (time, slot)
 * pairs kept in two typed arrays. The host registered one `{at, seq}` object per deadline in a
 * heap of objects and the time in a Map by slot: with 10,000 queues each touched a few times
 * (issue 5's queues-10k) every first turn of a queue left an object, a boxed time and a map entry
 * behind for the scavenger to copy and promote. Here a deadline is two numbers in arrays that grow
 * by doubling. Like DeadlineHeap, entries are never removed from the middle: the host recognises a
 * stale one (its slot re-registered earlier, or its actor gone) when it reaches the top.
 */
export class SlotDeadlines {
  #at = new Float64Array(16);
  #slot = new Float64Array(16);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(at: number, slot: number): void {
    if (this.#size === this.#at.length) this.#grow();
    const ats = this.#at;
    const slots = this.#slot;
    let i = this.#size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!(at < ats[parent]!)) break;
      ats[i] = ats[parent]!;
      slots[i] = slots[parent]!;
      i = parent;
    }
    ats[i] = at;
    slots[i] = slot;
  }

  /** Time of the earliest entry, or undefined when empty. */
  peekAt(): number | undefined {
    return this.#size === 0 ? undefined : this.#at[0];
  }

  /** Slot of the earliest entry (meaningful while not empty). */
  peekSlot(): number {
    return this.#slot[0]!;
  }

  /** Removes the earliest entry. */
  pop(): void {
    if (this.#size === 0) return;
    const n = --this.#size;
    if (n === 0) return;
    const ats = this.#at;
    const slots = this.#slot;
    const at = ats[n]!;
    const slot = slots[n]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && ats[r]! < ats[l]! ? r : l;
      if (!(ats[c]! < at)) break;
      ats[i] = ats[c]!;
      slots[i] = slots[c]!;
      i = c;
    }
    ats[i] = at;
    slots[i] = slot;
  }

  #grow(): void {
    const at = new Float64Array(this.#at.length * 2);
    const slot = new Float64Array(this.#slot.length * 2);
    at.set(this.#at);
    slot.set(this.#slot);
    this.#at = at;
    this.#slot = slot;
  }
}
