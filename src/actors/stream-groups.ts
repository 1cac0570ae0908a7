/**
 * Stream mode (docs/queue-semantics.md, "Stream mode"): the queue is a log that keeps every
 * message until retention (time, ttl, maxLength, maxBytes) trims it; acknowledging does not remove
 * anything. Named consumer groups read the log, each with:
 *
 * - `position`: the next sequence it reads for the first time;
 * - its own leases (visibility timeout per delivery) and receive counts: a lease that ends puts
 *   the message on the group's redelivery line, delivered before new ones;
 * - `committed`: every sequence below it was acknowledged (or trimmed) — persisted ('G' key), and
 *   where the group resumes after a restart (at-least-once: acks above it are kept in memory only).
 *
 * Groups start at `earliest`, `latest`, an offset or a timestamp, and can seek (replay) the same way.
 */
import { ErrorCodes, FerryError } from '../protocol/errors.js';
import type { StreamGroupInfo, StreamPosition } from '../protocol/ops.js';
import type { StreamGroupRecord } from '../storage/records.js';
import { Deque } from './deque.js';
import { State, type Msg } from './message.js';
import { DeadlineHeap } from './min-heap.js';
import type { PartitionStore } from './ports.js';

/** What the groups need to see of the queue's log. */
export interface StreamLog {
  get(seq: number): Msg | undefined;
  readonly nextSeq: number;
  /** Sequence of the oldest live message, if any. */
  oldestSeq(): number | undefined;
  /** Sequence of the first live message accepted at or after `timestamp`, or nextSeq. */
  firstAtOrAfter(timestamp: number): number;
  /** False for a message that must not be delivered now (expired). */
  deliverable(msg: Msg, now: number): boolean;
}

interface Delivery {
  receiveCount: number;
  firstReceivedAt: number;
  /** Lease end; 0 when not leased. */
  until: number;
  /** The push subscription holding the lease, if a push delivered it (released when its socket closes). */
  holder: object | undefined;
}

class Group {
  readonly deliveries = new Map<number, Delivery>();
  readonly redeliver = new Deque<number>();
  readonly acked = new Set<number>();
  readonly deadlines = new DeadlineHeap();
  leased = 0;
  constructor(
    readonly name: string,
    readonly gid: number,
    public committed: number,
    public position: number,
    readonly createdAt: number,
  ) {}

  reset(to: number): void {
    this.committed = to;
    this.position = to;
    this.deliveries.clear();
    this.redeliver.clear();
    this.acked.clear();
    this.deadlines.clear();
    this.leased = 0;
  }
}

/** One delivery handed out by `take`. */
export interface StreamDelivery {
  msg: Msg;
  gid: number;
  receiveCount: number;
  firstReceivedAt: number;
}

function noGroup(name: string): FerryError {
  return new FerryError(ErrorCodes.GroupDoesNotExist, `consumer group ${name} does not exist`, { field: 'group' });
}

export class StreamGroups {
  readonly #byName = new Map<string, Group>();
  readonly #byGid = new Map<number, Group>();
  readonly #log: StreamLog;
  readonly #store: PartitionStore;

  constructor(log: StreamLog, store: PartitionStore) {
    this.#log = log;
    this.#store = store;
  }

  restore(name: string, r: StreamGroupRecord): void {
    const g = new Group(name, r.gid, r.committed, r.committed, r.createdAt);
    this.#byName.set(name, g);
    this.#byGid.set(r.gid, g);
  }

  create(name: string, start: StreamPosition, now: number): StreamGroupInfo {
    if (this.#byName.has(name)) throw new FerryError(ErrorCodes.GroupAlreadyExists, `consumer group ${name} exists`, { field: 'group' });
    let gid: number;
    do gid = (Math.random() * 0xffffffff) >>> 0;
    while (this.#byGid.has(gid));
    const at = this.#resolve(start);
    const g = new Group(name, gid, at, at, now);
    this.#byName.set(name, g);
    this.#byGid.set(gid, g);
    this.#persist(g);
    return this.#info(g);
  }

  delete(name: string): void {
    const g = this.#group(name);
    this.#byName.delete(name);
    this.#byGid.delete(g.gid);
    this.#store.deleteGroup(name);
  }

  seek(name: string, to: StreamPosition): StreamGroupInfo {
    const g = this.#group(name);
    g.reset(this.#resolve(to));
    this.#persist(g);
    return this.#info(g);
  }

  list(): StreamGroupInfo[] {
    return [...this.#byName.values()].map((g) => this.#info(g));
  }

  /** Leases up to `max` messages to group `name`: redeliveries first, then new ones in log order. */
  take(name: string, max: number, visibilityMs: number, now: number, holder?: object): StreamDelivery[] {
    const g = this.#group(name);
    const out: StreamDelivery[] = [];
    const lease = (seq: number, msg: Msg): void => {
      const d = g.deliveries.get(seq) ?? { receiveCount: 0, firstReceivedAt: now, until: 0, holder: undefined };
      d.receiveCount++;
      d.until = now + visibilityMs;
      d.holder = holder;
      g.deliveries.set(seq, d);
      g.leased++;
      g.deadlines.push({ at: d.until, seq });
      out.push({ msg, gid: g.gid, receiveCount: d.receiveCount, firstReceivedAt: d.firstReceivedAt });
    };
    while (out.length < max && g.redeliver.length > 0) {
      const seq = g.redeliver.shift()!;
      const msg = this.#log.get(seq);
      const d = g.deliveries.get(seq);
      if (msg === undefined || d === undefined || d.until !== 0 || g.acked.has(seq) || !this.#log.deliverable(msg, now)) continue;
      lease(seq, msg);
    }
    const oldest = this.#log.oldestSeq();
    if (oldest !== undefined && g.position < oldest) g.position = oldest;
    while (out.length < max && g.position < this.#log.nextSeq) {
      const msg = this.#log.get(g.position);
      if (msg === undefined) {
        g.position++; // a gap: trimmed, or a sequence that never held a message here
        continue;
      }
      // Keep log order: a delayed message holds the group's first reads until it is due.
      if (msg.state === State.Delayed || msg.state === State.Held) break;
      const seq = g.position++;
      if (this.#log.deliverable(msg, now)) lease(seq, msg);
    }
    this.#advance(g);
    return out;
  }

  /** Acknowledges a delivery. False when the message is no longer there (trimmed). */
  ack(gid: number, seq: number, receiveCount: number, field: string): boolean {
    const g = this.#byGid.get(gid);
    if (g === undefined) throw new FerryError(ErrorCodes.ReceiptHandleIsInvalid, `${field} belongs to a consumer group that no longer exists`, { field });
    const d = this.#current(g, seq, receiveCount, field);
    if (d === undefined) return false;
    if (d.until !== 0) g.leased--;
    g.deliveries.delete(seq);
    g.acked.add(seq);
    this.#advance(g);
    return true;
  }

  /** nack / changeVisibility: the lease ends now (ms 0) or at now + ms. */
  release(gid: number, seq: number, receiveCount: number, ms: number, now: number, field: string): number {
    const g = this.#byGid.get(gid);
    if (g === undefined) throw new FerryError(ErrorCodes.ReceiptHandleIsInvalid, `${field} belongs to a consumer group that no longer exists`, { field });
    const d = this.#current(g, seq, receiveCount, field);
    if (d === undefined || d.until === 0) {
      throw new FerryError(ErrorCodes.ReceiptHandleExpired, `${field}: the message is not leased any more`, { field });
    }
    if (ms === 0) {
      d.until = 0;
      g.leased--;
      g.redeliver.unshift(seq);
      return now;
    }
    d.until = now + ms;
    g.deadlines.push({ at: d.until, seq });
    return d.until;
  }

  /** Messages group `name` could get now (redeliveries and unread sequences; an estimate). */
  available(name: string): number {
    const g = this.#byName.get(name);
    return g === undefined ? 0 : g.redeliver.length + Math.max(0, this.#log.nextSeq - g.position);
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** A push subscription went away: the leases it held end now and go back first. */
  releaseHolder(name: string, holder: object): void {
    const g = this.#byName.get(name);
    if (g === undefined) return;
    const released: number[] = [];
    for (const [seq, d] of g.deliveries) {
      if (d.holder !== holder || d.until === 0) continue;
      d.until = 0;
      d.holder = undefined;
      g.leased--;
      released.push(seq);
    }
    // In front of the redelivery line, in log order.
    released.sort((x, y) => x - y);
    for (let i = released.length - 1; i >= 0; i--) g.redeliver.unshift(released[i]!);
  }

  /** Ends leases that ran out; returns true if any did (a waiting receive may now be served). */
  tick(now: number): boolean {
    let any = false;
    for (const g of this.#byName.values()) {
      for (let top = g.deadlines.peek(); top !== undefined && top.at <= now; top = g.deadlines.peek()) {
        g.deadlines.pop();
        const d = g.deliveries.get(top.seq);
        if (d === undefined || d.until !== top.at) continue;
        d.until = 0;
        g.leased--;
        g.redeliver.push(top.seq);
        any = true;
      }
    }
    return any;
  }

  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const g of this.#byName.values()) {
      const at = g.deadlines.peek()?.at;
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /** Everything was purged: every group continues at the end of the log. */
  purged(nextSeq: number): void {
    for (const g of this.#byName.values()) {
      g.reset(nextSeq);
      this.#persist(g);
    }
  }

  get leased(): number {
    let n = 0;
    for (const g of this.#byName.values()) n += g.leased;
    return n;
  }

  #current(g: Group, seq: number, receiveCount: number, field: string): Delivery | undefined {
    const d = g.deliveries.get(seq);
    if (d === undefined) {
      if (this.#log.get(seq) === undefined || g.acked.has(seq) || seq < g.committed) return undefined;
      throw new FerryError(ErrorCodes.ReceiptHandleExpired, `${field}: this delivery is over (the group was reset by a seek)`, { field });
    }
    if (receiveCount > d.receiveCount) throw new FerryError(ErrorCodes.ReceiptHandleIsInvalid, `${field} names a delivery that never happened`, { field });
    if (receiveCount < d.receiveCount) {
      throw new FerryError(ErrorCodes.ReceiptHandleExpired, `${field} is from delivery ${receiveCount}; the message was delivered again since`, { field });
    }
    return d;
  }

  /** Moves `committed` over acknowledged (and trimmed) sequences; persists it when it moved. */
  #advance(g: Group): void {
    const before = g.committed;
    while (g.committed < g.position) {
      const s = g.committed;
      if (g.acked.delete(s) || (this.#log.get(s) === undefined && !g.deliveries.has(s))) {
        g.committed++;
        continue;
      }
      if (this.#log.get(s) === undefined) {
        g.deliveries.delete(s); // trimmed while delivered: nothing left to acknowledge
        continue;
      }
      break;
    }
    if (g.committed !== before) this.#persist(g);
  }

  #resolve(p: StreamPosition): number {
    const end = this.#log.nextSeq;
    const start = this.#log.oldestSeq() ?? end;
    if (p === 'earliest') return start;
    if (p === 'latest') return end;
    if ('offset' in p) return Math.min(end, Math.max(start, p.offset));
    return this.#log.firstAtOrAfter(p.timestamp);
  }

  #group(name: string): Group {
    const g = this.#byName.get(name);
    if (g === undefined) throw noGroup(name);
    return g;
  }

  #persist(g: Group): void {
    this.#store.putGroup(g.name, { gid: g.gid, committed: g.committed, createdAt: g.createdAt });
  }

  #info(g: Group): StreamGroupInfo {
    // Sequences not yet read (gaps included: an estimate that costs O(1)).
    const lag = Math.max(0, this.#log.nextSeq - Math.max(g.position, this.#log.oldestSeq() ?? this.#log.nextSeq));
    return { group: g.name, committed: g.committed, position: g.position, leased: g.leased, lag };
  }
}
