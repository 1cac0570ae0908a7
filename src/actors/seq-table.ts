/**
 * A queue actor's live messages by sequence, in insertion order: what a `Map<number, Msg>` gave
 * it, without a Map.
 *
 * Why not a Map. In consume ×16 every delivered message is set into the table (promoted from the
 * backlog) and deleted at its ack, ~40k a second per shard. A Map that churns so replaces its hash
 * table whenever it fills with deleted entries, the replaced table linked to its successor and
 * keeping the entries it held: once one table of a long-lived Map is in the old generation, each
 * later table and every message in it survives scavenges until a full collection (the finding
 * behind src/common/id-table.ts for the main thread's pending answers). The operations themselves
 * cost about the same (measured: 100–200 ns a message either way); the shard's consume path as a
 * whole measured lower CPU with this table, GC included (loadtest/analysis.md, sixth session).
 *
 * Here: open addressing over an array of the values themselves (a value's key is its `seq`),
 * linear probing, a multiplicative hash of the sequence (sequences close together spread over
 * the table, and so do sequences a power of two apart), deletion by moving later entries of the
 * probe run back (no tombstones). The table is replaced only when it grows or shrinks, and the
 * replaced array links to nothing. Insertion order is kept in a second array, appended to on each
 * insert; entries deleted since stay there, recognised as stale (the table no longer holds that
 * value under its sequence) and skipped, and the array is compacted once stale entries outnumber
 * the live ones.
 */

export interface Sequenced {
  readonly seq: number;
}

const MIN_CAPACITY = 16;
/**
 * A table that grew past this keeps at least this capacity (8 KiB): a queue with a thousand
 * messages in flight at times keeps room for them, while queues that never hold many (10,000
 * queues with a few messages each) stay small.
 */
const KEEP_CAPACITY = 1024;
/** Stale insertion-order entries allowed beyond the live ones before compaction. */
const ORDER_SLACK = 64;
const TWO_32 = 0x1_0000_0000;

export class SeqTable<V extends Sequenced> {
  #slots!: Array<V | undefined>;
  #mask!: number;
  /** 32 − log2(capacity): the hash's top bits index the table. */
  #shift!: number;
  #size = 0;
  /** Values in insertion order from #head on, stale ones included (see the module comment). */
  #order: V[] = [];
  #head = 0;

  constructor() {
    this.#allocate(MIN_CAPACITY);
  }

  get size(): number {
    return this.#size;
  }

  /** Entries kept in the insertion-order array, stale ones included (for tests: memory follows the live entries). */
  get orderLength(): number {
    return this.#order.length;
  }

  /** Capacity of the hash table, for tests. */
  get capacity(): number {
    return this.#slots.length;
  }

  get(seq: number): V | undefined {
    const slots = this.#slots;
    const mask = this.#mask;
    for (let i = this.#home(seq); ; i = (i + 1) & mask) {
      const v = slots[i];
      if (v === undefined || v.seq === seq) return v;
    }
  }

  has(seq: number): boolean {
    return this.get(seq) !== undefined;
  }

  /**
   * Adds `value` under `value.seq` (a non-negative safe integer), at the end of the insertion
   * order. A different value already under that sequence is replaced and the new one goes to the
   * end; the same value again changes nothing.
   */
  set(value: V): void {
    const seq = value.seq;
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`SeqTable: sequence ${seq} is not a non-negative safe integer`);
    if (2 * (this.#size + 1) > this.#slots.length) this.#resize(this.#slots.length * 2);
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(seq);
    for (let v = slots[i]; v !== undefined; v = slots[(i = (i + 1) & mask)]) {
      if (v.seq !== seq) continue;
      if (v === value) return;
      slots[i] = value;
      this.#append(value);
      return;
    }
    slots[i] = value;
    this.#size++;
    this.#append(value);
  }

  /** Removes the value under `seq`; true when there was one. */
  delete(seq: number): boolean {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(seq);
    for (;;) {
      const v = slots[i];
      if (v === undefined) return false;
      if (v.seq === seq) break;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: move each later entry of the run into the hole when its home slot
    // does not lie (cyclically) between the hole and where it sits, so every lookup still finds it.
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const v = slots[j];
      if (v === undefined) break;
      const home = this.#home(v.seq);
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = v;
        hole = j;
      }
    }
    slots[hole] = undefined;
    this.#size--;
    // Shrinks only well below the load it grows at, and not below KEEP_CAPACITY once past it: a
    // queue whose leases come and go in waves of a push (a thousand set, then a thousand deleted)
    // would otherwise rebuild its table each wave.
    if (this.#slots.length > KEEP_CAPACITY && 16 * this.#size < this.#slots.length) this.#resize(Math.max(KEEP_CAPACITY, this.#slots.length / 4));
    if (this.#size === 0) {
      this.#order = [];
      this.#head = 0;
    }
    return true;
  }

  /** The first value in insertion order, or undefined when empty. */
  first(): V | undefined {
    const order = this.#order;
    while (this.#head < order.length) {
      const v = order[this.#head]!;
      if (this.#holds(v)) return v;
      order[this.#head++] = undefined as unknown as V; // let it go now
    }
    return undefined;
  }

  /**
   * The values in insertion order. Deleting while iterating is fine (deleted values are skipped);
   * values set while iterating may be missed.
   */
  *values(): Generator<V> {
    const order = this.#order;
    for (let i = this.#head; i < order.length; i++) {
      const v = order[i]!;
      if (v !== undefined && this.#holds(v)) yield v;
    }
  }

  clear(): void {
    this.#allocate(MIN_CAPACITY);
    this.#size = 0;
    this.#order = [];
    this.#head = 0;
  }

  /** Home slot of `seq`: Fibonacci hashing of its low and high 32 bits. */
  #home(seq: number): number {
    const mixed = seq < TWO_32 ? seq | 0 : (seq | 0) ^ Math.floor(seq / TWO_32);
    return Math.imul(mixed, 0x9e3779b1) >>> this.#shift;
  }

  #append(value: V): void {
    const order = this.#order;
    order.push(value);
    // Compacted when stale entries outnumber the live ones, or when the entries `first` already
    // passed make up half the array (else an array whose head keeps up with the deletes, as in
    // a queue acked in order, would only ever grow).
    const head = this.#head;
    if (order.length - head > 2 * this.#size + ORDER_SLACK || (head > ORDER_SLACK && 2 * head > order.length)) {
      const kept: V[] = [];
      for (let i = this.#head; i < order.length; i++) {
        const v = order[i]!;
        if (v !== undefined && this.#holds(v)) kept.push(v);
      }
      this.#order = kept;
      this.#head = 0;
    }
  }

  /** Whether `v` is still in the table (an insertion-order entry not yet stale). */
  #holds(v: V): boolean {
    return this.get(v.seq) === v;
  }

  /** An empty hash table of `capacity` slots (a power of two), with its mask and shift. */
  #allocate(capacity: number): void {
    this.#slots = new Array<V | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
    this.#shift = 32 - Math.log2(capacity);
  }

  #resize(capacity: number): void {
    const old = this.#slots;
    this.#allocate(capacity);
    const slots = this.#slots;
    for (const v of old) {
      if (v === undefined) continue;
      let i = this.#home(v.seq);
      while (slots[i] !== undefined) i = (i + 1) & this.#mask;
      slots[i] = v;
    }
  }
}
