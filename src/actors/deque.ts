/** A growable ring buffer: O(1) push at the back and shift at the front, for the visible queue. */
export class Deque<T> {
  #buf: Array<T | undefined> = new Array(16);
  #head = 0;
  #len = 0;

  get length(): number {
    return this.#len;
  }

  push(item: T): void {
    if (this.#len === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#len) & (this.#buf.length - 1)] = item;
    this.#len++;
  }

  /** Puts an item at the front (a message released early goes back first). */
  unshift(item: T): void {
    if (this.#len === this.#buf.length) this.#grow();
    this.#head = (this.#head - 1) & (this.#buf.length - 1);
    this.#buf[this.#head] = item;
    this.#len++;
  }

  shift(): T | undefined {
    if (this.#len === 0) return undefined;
    const item = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#buf.length - 1);
    this.#len--;
    return item;
  }

  /** The front item without removing it. */
  peek(): T | undefined {
    return this.#len === 0 ? undefined : this.#buf[this.#head];
  }

  /** Visits the items front to back. */
  forEach(visit: (item: T) => void): void {
    for (let i = 0; i < this.#len; i++) visit(this.#buf[(this.#head + i) & (this.#buf.length - 1)]!);
  }

  clear(): void {
    this.#buf = new Array(16);
    this.#head = 0;
    this.#len = 0;
  }

  #grow(): void {
    const next: Array<T | undefined> = new Array(this.#buf.length * 2);
    for (let i = 0; i < this.#len; i++) next[i] = this.#buf[(this.#head + i) & (this.#buf.length - 1)];
    this.#buf = next;
    this.#head = 0;
  }
}
