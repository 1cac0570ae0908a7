/**
 * Delivery order: which visible message a receive gets next. Two policies (docs/queue-semantics.md,
 * "Ordering"):
 *
 * - RelaxedOrder: no order promise, but fair across message groups: each group has its own FIFO of
 *   visible messages and deliveries rotate over the groups that have some (round-robin), so one
 *   group with a huge backlog cannot starve the others. Without groupIds it is one FIFO.
 * - StrictOrder: FIFO per group in acceptance order, at most one message of a group leased at a
 *   time. Each group keeps ALL its live messages in order; only the head may be delivered, and only
 *   while it is visible. The group waits behind its head until the head is removed (deleted or
 *   dead-lettered); a head that comes back (lease expired, nack) is delivered again first.
 *
 * Both keep stale entries lazily (a removed message has state Gone and is skipped), so removal is
 * O(1) and nothing searches the middle of a queue.
 *
 * RelaxedOrder may have a second source for the default group '': the actor's compact backlog of
 * plain messages (backlog.ts), which are not objects until they are taken. The group then delivers
 * whichever of its two heads has the lower sequence, so a queue without groups stays FIFO.
 */
import { Deque } from './deque.js';
import { State, type Msg } from './message.js';

export interface DeliveryOrder {
  /** A message joined the queue's order (at acceptance, or at release by the ordering window). */
  accepted(msg: Msg): void;
  /** A message became visible. `front`: it was released early and goes before others of its group (relaxed). */
  visible(msg: Msg, front: boolean): void;
  /** A message left the queue (its state is already Gone). */
  removed(msg: Msg): void;
  /** Takes the next deliverable message out of the order, or undefined. */
  next(): Msg | undefined;
  /** Groups that currently hold messages (strict) or visible messages (relaxed). */
  readonly groups: number;
  clear(): void;
}

/** Plain visible messages of group '' that the actor keeps compactly, in sequence order. */
export interface Backlogged {
  /** Sequence of the first one, or undefined when there is none. */
  peekSeq(): number | undefined;
  /** Takes the first one out as a full message (state Visible). */
  promote(): Msg;
}

interface RelaxedGroup {
  key: string;
  visible: Deque<Msg>;
  inRing: boolean;
}

export class RelaxedOrder implements DeliveryOrder {
  /** Groups other than the default one, while they are in the ring. */
  readonly #groups = new Map<string, RelaxedGroup>();
  /**
   * The default group '' (every message without a groupId), kept for the queue's life: it leaves
   * the ring whenever it has nothing visible, which at a low rate with nothing queued is after
   * nearly every message. Deleted from and set into the Map again each time, it cost a new group
   * object and, once the Map was old, a hash table allocated straight into the old generation per
   * message or two (V8 replaces a table on such a delete and set), garbage that only a full
   * collection frees (loadtest/analysis.md, seventh session).
   */
  readonly #default: RelaxedGroup = { key: '', visible: new Deque(), inRing: false };
  readonly #ring = new Deque<RelaxedGroup>();

  constructor(readonly backlog?: Backlogged) {}

  get groups(): number {
    return this.#groups.size + (this.#default.inRing ? 1 : 0);
  }

  accepted(): void {}

  visible(msg: Msg, front: boolean): void {
    const g = this.#group(msg.group);
    if (front) g.visible.unshift(msg);
    else g.visible.push(msg);
  }

  /** The backlog got a message: group '' has something to deliver. */
  backlogged(): void {
    this.#group('');
  }

  removed(): void {}

  next(): Msg | undefined {
    for (let g = this.#ring.shift(); g !== undefined; g = this.#ring.shift()) {
      while (g.visible.length > 0 && g.visible.peek()!.state !== State.Visible) g.visible.shift();
      const head = g.visible.peek();
      const b = g.key === '' ? this.backlog?.peekSeq() : undefined;
      const msg = b !== undefined && (head === undefined || b < head.seq) ? this.backlog!.promote() : g.visible.shift();
      if (g.visible.length > 0 || (g.key === '' && this.backlog?.peekSeq() !== undefined)) this.#ring.push(g); // its turn comes again after the others
      else {
        g.inRing = false;
        if (g !== this.#default) this.#groups.delete(g.key);
      }
      if (msg !== undefined) return msg;
    }
    return undefined;
  }

  /** The group of `key`, created and put in the ring if needed. */
  #group(key: string): RelaxedGroup {
    let g = key === '' ? this.#default : this.#groups.get(key);
    if (g === undefined) this.#groups.set(key, (g = { key, visible: new Deque(), inRing: false }));
    if (!g.inRing) {
      g.inRing = true;
      this.#ring.push(g);
    }
    return g;
  }

  clear(): void {
    this.#groups.clear();
    this.#default.visible.clear();
    this.#default.inRing = false;
    this.#ring.clear();
  }
}

interface StrictGroup {
  key: string;
  /** Every live message of the group, in acceptance order (Gone ones drop off the front lazily). */
  messages: Deque<Msg>;
  inRing: boolean;
}

export class StrictOrder implements DeliveryOrder {
  readonly #groups = new Map<string, StrictGroup>();
  /** Groups whose head may be visible; checked when they come up. */
  readonly #ring = new Deque<StrictGroup>();

  get groups(): number {
    return this.#groups.size;
  }

  accepted(msg: Msg): void {
    let g = this.#groups.get(msg.group);
    if (g === undefined) this.#groups.set(msg.group, (g = { key: msg.group, messages: new Deque(), inRing: false }));
    g.messages.push(msg);
    if (g.messages.length === 1) this.#offer(g);
  }

  visible(msg: Msg): void {
    const g = this.#groups.get(msg.group);
    if (g !== undefined && this.#head(g) === msg) this.#offer(g);
  }

  removed(msg: Msg): void {
    const g = this.#groups.get(msg.group);
    if (g === undefined) return;
    const head = this.#head(g);
    if (head === undefined) this.#groups.delete(g.key);
    else this.#offer(g);
  }

  next(): Msg | undefined {
    for (let g = this.#ring.shift(); g !== undefined; g = this.#ring.shift()) {
      g.inRing = false;
      const head = this.#head(g);
      if (head === undefined) {
        this.#groups.delete(g.key);
        continue;
      }
      // Only a visible head is deliverable; a leased or delayed head blocks its group until it
      // comes back (visible) or leaves (removed), and both re-offer the group.
      if (head.state === State.Visible) return head;
    }
    return undefined;
  }

  clear(): void {
    this.#groups.clear();
    this.#ring.clear();
  }

  /** Whether group `key` has a live message (any state but held by the ordering window). */
  holds(key: string): boolean {
    const g = this.#groups.get(key);
    return g !== undefined && this.#head(g) !== undefined;
  }

  /** The groups with a live message. */
  heldGroups(): string[] {
    const out: string[] = [];
    for (const g of this.#groups.values()) if (this.#head(g) !== undefined) out.push(g.key);
    return out;
  }

  #head(g: StrictGroup): Msg | undefined {
    while (g.messages.length > 0 && g.messages.peek()!.state === State.Gone) g.messages.shift();
    return g.messages.peek();
  }

  #offer(g: StrictGroup): void {
    if (g.inRing) return;
    const head = g.messages.peek();
    if (head === undefined || head.state !== State.Visible) return;
    g.inRing = true;
    this.#ring.push(g);
  }
}

/** Stream mode: consumer groups read the log themselves (stream-groups.ts); nothing to order here. */
export class NoOrder implements DeliveryOrder {
  readonly groups = 0;
  accepted(): void {}
  visible(): void {}
  removed(): void {}
  next(): Msg | undefined {
    return undefined;
  }
  clear(): void {}
}
