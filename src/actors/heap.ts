/** A binary min-heap under a comparison, for orders that are not a single number (ordering window). */
export class BinaryHeap<T> {
  #items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const a = this.#items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(item, a[parent]!)) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = item;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  pop(): T | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    a[0] = last;
    this.#siftDown(0);
    return top;
  }

  clear(): void {
    this.#items = [];
  }

  /** Keeps only the items `keep` accepts, in heap order again (O(n): sift down from the last parent). */
  retain(keep: (item: T) => boolean): void {
    const a = this.#items.filter(keep);
    this.#items = a;
    for (let i = (a.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #siftDown(start: number): void {
    const a = this.#items;
    const n = a.length;
    const item = a[start]!;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(a[r]!, a[l]!) ? r : l;
      if (!this.less(a[c]!, item)) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = item;
  }
}
