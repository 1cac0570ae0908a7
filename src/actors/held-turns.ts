/**
 * The answers of turns whose writes have not yet reached the point their answers wait for. A
 * turn's writes get a number (the store's write count after the turn; a turn that wrote nothing
 * has the number of the last write before it, because what it answers may rest on that write,
 * e.g. a message sent one turn earlier and delivered in this one). Most turns wait until their
 * number is durable (synced). A settling turn (shard-host.ts: only deletes, visibility changes
 * and credit) waits only until its number is written: its answers survive a kill of the process
 * then, and the sync follows (docs/protocol.md, "Delivery guarantees"). Turns are released
 * strictly in order: numbers never decrease and a written number is never above the durable
 * one's... the other way round, so releasing from the front while the front may go keeps both rules.
 */
import { Deque } from './deque.js';

interface HeldTurn<T> {
  write: number;
  /** Whether the turn waits for `write` to be durable (else: written). */
  durable: boolean;
  items: T[];
}

export class HeldTurns<T> {
  readonly #turns = new Deque<HeldTurn<T>>();

  /** Holds one turn's answers until write number `write` is durable, or only written with `durable: false`. */
  hold(write: number, items: T[], durable = true): void {
    if (items.length > 0) this.#turns.push({ write, durable, items });
  }

  /**
   * The answers of every held turn that may go, in turn order: writes through number `durable`
   * are synced, through `written` written (durable ≤ written).
   */
  release(durable: number, written: number = durable): T[] {
    const first = this.#turns.peek();
    if (first === undefined || !mayGo(first, durable, written)) return [];
    this.#turns.shift();
    if (this.#turns.length === 0 || !mayGo(this.#turns.peek()!, durable, written)) return first.items;
    const out = first.items;
    for (let turn = this.#turns.peek(); turn !== undefined && mayGo(turn, durable, written); turn = this.#turns.peek()) {
      this.#turns.shift();
      for (const item of turn.items) out.push(item);
    }
    return out;
  }

  /** Whether any turn's answers are held. */
  get holding(): boolean {
    return this.#turns.length > 0;
  }
}

function mayGo(turn: HeldTurn<unknown>, durable: number, written: number): boolean {
  return turn.write <= (turn.durable ? durable : written);
}
