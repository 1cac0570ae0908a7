/**
 * The floor pseudo-broker's queues (loadtest/floor-server.ts): in memory, one consumer per queue
 * with a credit window (prefetch), acks that give credit back, no leases, no redelivery, no
 * persistence. The least a queue can do, so that what the floor measures is the thread shape
 * around it. Runs on the server's main thread (hops=2) or in each worker (hops=4).
 *
 * Pushes are made at the end of a turn (`endTurn`), one per consumer with everything its credit
 * allows, as Ferry's shard pushes once per turn.
 */

/** Where the queues' answers go; the caller groups them per session and writes them. */
export interface FloorOutput {
  ok(session: number, id: number): void;
  /** A publish's confirm (in sync mode held until its bodies are synced). */
  confirm(session: number, id: number): void;
  error(session: number, id: number, code: string, message: string): void;
  push(session: number, sub: number, bodies: Uint8Array[]): void;
}

interface Consumer {
  session: number;
  sub: number;
  credit: number;
}

class Queue {
  /** Queued bodies from `head` on. */
  items: Uint8Array[] = [];
  head = 0;
  consumer: Consumer | undefined;
  dirty = false;
  /** Deleted during the turn that marked it dirty: nothing more to push. */
  deleted = false;

  get depth(): number {
    return this.items.length - this.head;
  }

  /** Up to `n` bodies from the head. */
  take(n: number): Uint8Array[] {
    const out = this.items.slice(this.head, this.head + n);
    this.head += out.length;
    // Drop the taken prefix once it is most of the array, so the array does not grow for ever.
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}

/** At most this many bodies in one push. */
const MAX_PUSH = 1000;

export class FloorQueues {
  readonly #out: FloorOutput;
  readonly #queues = new Map<string, Queue>();
  /** Queues with something to push at the end of the turn. */
  #dirty: Queue[] = [];

  constructor(out: FloorOutput) {
    this.#out = out;
  }

  get size(): number {
    return this.#queues.size;
  }

  /** Bodies queued (not yet pushed) in `name`, or undefined when there is no such queue. */
  depth(name: string): number | undefined {
    return this.#queues.get(name)?.depth;
  }

  create(session: number, id: number, name: string): void {
    if (this.#queues.has(name)) return this.#out.error(session, id, 'QueueExists', `queue ${name} exists`);
    this.#queues.set(name, new Queue());
    this.#out.ok(session, id);
  }

  delete(session: number, id: number, name: string): void {
    const q = this.#queues.get(name);
    if (q === undefined) return this.#out.error(session, id, 'NoSuchQueue', `queue ${name} does not exist`);
    q.deleted = true;
    this.#queues.delete(name);
    this.#out.ok(session, id);
  }

  /** True when the bodies were queued (else an error was answered). */
  publish(session: number, id: number, name: string, bodies: Uint8Array[]): boolean {
    const q = this.#queues.get(name);
    if (q === undefined) {
      this.#out.error(session, id, 'NoSuchQueue', `queue ${name} does not exist`);
      return false;
    }
    for (const b of bodies) q.items.push(b);
    this.#mark(q);
    this.#out.confirm(session, id);
    return true;
  }

  subscribe(session: number, id: number, name: string, prefetch: number): void {
    const q = this.#queues.get(name);
    if (q === undefined) return this.#out.error(session, id, 'NoSuchQueue', `queue ${name} does not exist`);
    if (q.consumer !== undefined) return this.#out.error(session, id, 'AlreadyConsumed', `queue ${name} has a consumer (the floor allows one per queue)`);
    q.consumer = { session, sub: id, credit: prefetch };
    this.#mark(q);
    this.#out.ok(session, id);
  }

  /** `count` credits back to subscription `sub` of `session` on `name`; no answer unless it is wrong. */
  ack(session: number, sub: number, name: string, count: number): void {
    const c = this.#queues.get(name)?.consumer;
    if (c === undefined || c.session !== session || c.sub !== sub) {
      return this.#out.error(session, sub, 'NoSuchSubscription', `no subscription ${sub} of this connection on queue ${name}`);
    }
    c.credit += count;
    this.#mark(this.#queues.get(name)!);
  }

  /** The session closed: its subscriptions end (what was pushed to it and not acked is gone). */
  gone(session: number): void {
    for (const q of this.#queues.values()) if (q.consumer?.session === session) q.consumer = undefined;
  }

  /** Pushes what each consumer's credit allows, one push per consumer (or per MAX_PUSH bodies). */
  endTurn(): void {
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const q of dirty) {
      q.dirty = false;
      const c = q.consumer;
      if (c === undefined || q.deleted) continue;
      while (c.credit > 0 && q.depth > 0) {
        const bodies = q.take(Math.min(c.credit, MAX_PUSH));
        c.credit -= bodies.length;
        this.#out.push(c.session, c.sub, bodies);
      }
    }
  }

  #mark(q: Queue): void {
    if (q.dirty) return;
    q.dirty = true;
    this.#dirty.push(q);
  }
}
