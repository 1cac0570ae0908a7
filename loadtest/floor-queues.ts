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

/**
 * A publish's bodies as they arrived: ranges of one buffer. A queue holds these, not one object
 * per body: a saturated queue with no consumer (the isolation scenario) holds millions of bodies,
 * and an object each made the holding thread's collections take tens to hundreds of ms, a cost
 * Ferry (bodies in RocksDB, off the heap) does not have.
 */
export interface Bodies {
  bytes: Uint8Array;
  /** Start and end offset in `bytes` of each body. */
  starts: Uint32Array;
  ends: Uint32Array;
}

/** Bodies given as views into one buffer (a decoded frame's) as a Bodies. */
export function bodiesOf(bytes: Uint8Array, views: readonly Uint8Array[]): Bodies {
  const starts = new Uint32Array(views.length);
  const ends = new Uint32Array(views.length);
  for (let i = 0; i < views.length; i++) {
    starts[i] = views[i]!.byteOffset - bytes.byteOffset;
    ends[i] = starts[i]! + views[i]!.byteLength;
  }
  return { bytes, starts, ends };
}

/**
 * A queue keeps at most this many bytes of bodies; past it the oldest are dropped (and counted), so
 * a queue published to for minutes without a consumer cannot take the machine's memory.
 */
export const MAX_QUEUE_BYTES = 512 * 1024 * 1024;

class Queue {
  /** Publishes not wholly taken, oldest first, from `head` on; `next` is the first body of the oldest not taken. */
  segments: Array<Bodies | undefined> = [];
  head = 0;
  next = 0;
  depth = 0;
  bytes = 0;
  dropped = 0;
  consumer: Consumer | undefined;
  dirty = false;
  /** Deleted during the turn that marked it dirty: nothing more to push. */
  deleted = false;

  /** Queues `b`, dropping the oldest publishes while the queue holds more than `maxBytes` (never `b` itself). */
  add(b: Bodies, maxBytes: number): void {
    this.segments.push(b);
    this.depth += b.starts.length;
    this.bytes += b.ends[b.ends.length - 1]! - b.starts[0]!;
    while (this.bytes > maxBytes && this.depth > b.starts.length) {
      const oldest = this.segments[this.head]!;
      const rest = oldest.starts.length - this.next;
      this.dropped += rest;
      this.depth -= rest;
      this.#shift(oldest);
    }
  }

  /** Up to `n` bodies from the head, as views. */
  take(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (out.length < n && this.depth > 0) {
      const seg = this.segments[this.head]!;
      const upto = Math.min(seg.starts.length, this.next + n - out.length);
      for (let i = this.next; i < upto; i++) out.push(seg.bytes.subarray(seg.starts[i]!, seg.ends[i]!));
      this.depth -= upto - this.next;
      if (upto === seg.starts.length) this.#shift(seg);
      else this.next = upto;
    }
    return out;
  }

  /** Lets the oldest segment go (its bodies were taken or dropped, and counted so). */
  #shift(seg: Bodies): void {
    this.bytes -= seg.ends[seg.ends.length - 1]! - seg.starts[0]!;
    this.segments[this.head++] = undefined;
    this.next = 0;
    if (this.head === this.segments.length) {
      this.segments = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.segments.length) {
      this.segments = this.segments.slice(this.head);
      this.head = 0;
    }
  }
}

/** At most this many bodies in one push. */
const MAX_PUSH = 1000;

export class FloorQueues {
  readonly #out: FloorOutput;
  readonly #maxQueueBytes: number;
  readonly #queues = new Map<string, Queue>();
  /** Queues with something to push at the end of the turn. */
  #dirty: Queue[] = [];

  constructor(out: FloorOutput, maxQueueBytes = MAX_QUEUE_BYTES) {
    this.#out = out;
    this.#maxQueueBytes = maxQueueBytes;
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

  /** Bodies dropped from `name` because it held MAX_QUEUE_BYTES (undefined: no such queue). */
  dropped(name: string): number | undefined {
    return this.#queues.get(name)?.dropped;
  }

  /** True when the bodies were queued (else an error was answered). */
  publish(session: number, id: number, name: string, bodies: Bodies): boolean {
    const q = this.#queues.get(name);
    if (q === undefined) {
      this.#out.error(session, id, 'NoSuchQueue', `queue ${name} does not exist`);
      return false;
    }
    q.add(bodies, this.#maxQueueBytes);
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
