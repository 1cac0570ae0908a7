/**
 * A binary min-heap of deadlines. The actor keeps one for leases and delays instead of one timer
 * per message, so millions of leased messages cost one array, and the host arms a single timer at
 * `peek()`. Entries are never removed from the middle: a stale entry (the message was deleted or
 * re-leased) is recognised and dropped when it reaches the top.
 */
export interface Deadline {
  at: number;
  seq: number;
}

export class DeadlineHeap {
  #items: Deadline[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(item: Deadline): void {
    const a = this.#items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.at <= item.at) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = item;
  }

  peek(): Deadline | undefined {
    return this.#items[0];
  }

  pop(): Deadline | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    let i = 0;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]!.at < a[l]!.at ? r : l;
      if (a[c]!.at >= last.at) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }

  clear(): void {
    this.#items = [];
  }
}
