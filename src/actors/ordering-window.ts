/**
 * The ordering window (docs/queue-semantics.md, "Ordering window"): messages carry a producer
 * timestamp; the actor holds each until `timestamp + orderingWindowMs` and releases them in
 * (timestamp, producer, seq) order. The key of the last released message is the watermark: a
 * message whose key sorts below it arrives after its slot was released — it is released at once,
 * marked `late`, and counted, never dropped.
 */
import { BinaryHeap } from './heap.js';
import type { Msg } from './message.js';

export interface SlotKey {
  timestamp: number;
  producer: string;
  seq: number;
}

export function keyOf(m: Msg): SlotKey {
  return { timestamp: m.extra?.timestamp ?? m.sentAt, producer: m.extra?.producer ?? '', seq: m.seq };
}

export function keyLess(a: SlotKey, b: SlotKey): boolean {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp;
  if (a.producer !== b.producer) return a.producer < b.producer;
  return a.seq < b.seq;
}

export class OrderingWindow {
  readonly #held = new BinaryHeap<{ key: SlotKey; msg: Msg }>((a, b) => keyLess(a.key, b.key));
  #watermark: SlotKey | undefined;

  get held(): number {
    return this.#held.size;
  }

  /** True when the slot of this key was already released. */
  isLate(key: SlotKey): boolean {
    return this.#watermark !== undefined && keyLess(key, this.#watermark);
  }

  hold(msg: Msg): void {
    this.#held.push({ key: keyOf(msg), msg });
  }

  /** Marks a key as released without holding it (recovery of already released messages). */
  passed(key: SlotKey): void {
    if (this.#watermark === undefined || keyLess(this.#watermark, key)) this.#watermark = key;
  }

  /** Releases, in key order, every held message whose window is over at `now`. */
  release(now: number, windowMs: number): Msg[] {
    const out: Msg[] = [];
    for (let top = this.#held.peek(); top !== undefined && top.key.timestamp + windowMs <= now; top = this.#held.peek()) {
      this.#held.pop();
      this.passed(top.key);
      out.push(top.msg);
    }
    return out;
  }

  /** When the next held message is due. */
  nextDue(windowMs: number): number | undefined {
    const top = this.#held.peek();
    return top === undefined ? undefined : top.key.timestamp + windowMs;
  }

  /** Everything held, in key order (used when the window is switched off). */
  drain(): Msg[] {
    const out: Msg[] = [];
    for (let top = this.#held.pop(); top !== undefined; top = this.#held.pop()) {
      this.passed(top.key);
      out.push(top.msg);
    }
    return out;
  }

  clear(): void {
    this.#held.clear();
  }
}
