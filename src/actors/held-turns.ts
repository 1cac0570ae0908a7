/**
 * The answers of turns whose writes are not yet durable. A turn's writes get a number (the
 * store's write count after the turn; a turn that wrote nothing has the number of the last write
 * before it, because what it answers may rest on that write, e.g. a message sent one turn earlier
 * and delivered in this one). A turn is released once its number is durable, and turns are
 * released strictly in order: numbers never decrease, so releasing from the front while the front
 * is durable keeps both rules.
 */
import { Deque } from './deque.js';

export class HeldTurns<T> {
  readonly #turns = new Deque<{ write: number; items: T[] }>();

  /** Holds one turn's answers until write number `write` is durable. */
  hold(write: number, items: T[]): void {
    if (items.length > 0) this.#turns.push({ write, items });
  }

  /** The answers of every held turn whose write is durable (through number `durable`), in turn order. */
  release(durable: number): T[] {
    const first = this.#turns.peek();
    if (first === undefined || first.write > durable) return [];
    this.#turns.shift();
    if (this.#turns.length === 0 || this.#turns.peek()!.write > durable) return first.items;
    const out = first.items;
    for (let turn = this.#turns.peek(); turn !== undefined && turn.write <= durable; turn = this.#turns.peek()) {
      this.#turns.shift();
      for (const item of turn.items) out.push(item);
    }
    return out;
  }

  /** Whether `release(durable)` would release anything now. */
  ready(durable: number): boolean {
    const first = this.#turns.peek();
    return first !== undefined && first.write <= durable;
  }

  /** Whether any turn's answers are held. */
  get holding(): boolean {
    return this.#turns.length > 0;
  }
}
