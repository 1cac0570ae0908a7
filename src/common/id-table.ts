/**
 * Values by integer id, for entries that come and go at a high rate: requests awaiting their
 * answer, by request id (the broker's answers from shards, the SDK's replies from the broker).
 *
 * Not a Map, because of how V8 collects one that churns. A Map's hash table is replaced when it
 * fills with deleted entries, and the replaced table keeps a pointer to its successor (so that
 * iterators still running over it can move on) and the entries it held. Once one table of a
 * long-lived Map has been promoted to the old generation, every later table and every value in it
 * is reachable from that garbage, so each scavenge copies them and the next promotes them, until a
 * full collection frees the lot. Measured in the broker's main thread at 5,000 requests/s
 * (loadtest/analysis.md, fifth session): ~2.8 MB surviving each scavenge, all of it request
 * closures, decoded frames and answers kept by the pending-answer Map. An object in dictionary
 * mode replaces its table without such a link; ids here are unique integers, which an object
 * keeps as elements.
 */
export class IdTable<V> {
  #entries: Record<number, V> = Object.create(null) as Record<number, V>;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(id: number): V | undefined {
    return this.#entries[id];
  }

  /** Adds or replaces the value of `id` (a non-negative safe integer). */
  set(id: number, value: V): void {
    if (!Number.isSafeInteger(id) || id < 0) throw new RangeError(`IdTable: id ${id} is not a non-negative integer`);
    if (!(id in this.#entries)) this.#size++;
    this.#entries[id] = value;
  }

  /** Removes `id`; true when it was there. */
  delete(id: number): boolean {
    if (!(id in this.#entries)) return false;
    delete this.#entries[id];
    this.#size--;
    return true;
  }

  clear(): void {
    this.#entries = Object.create(null) as Record<number, V>;
    this.#size = 0;
  }

  /** The values, in ascending order of id. */
  values(): V[] {
    return Object.values(this.#entries);
  }

  /** The entries, in ascending order of id. */
  entries(): Array<[number, V]> {
    return Object.entries(this.#entries).map(([k, v]) => [Number(k), v]);
  }
}
