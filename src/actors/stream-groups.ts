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
 * With a dead-letter queue (`deadLetter: {queue, maxReceives}`), each group applies maxReceives to
 * its own deliveries: when a lease of the group's `maxReceives`-th delivery ends, or the group nacks
 * with `requeue: false` (`rejected`), THAT group dead-letters the message — a copy leaves through
 * the queue's outbox, keyed by (queue, seq, group) — and it counts as acknowledged for the group.
 * The log keeps the message for the other groups. The group's receive counts are then persisted
 * ('C' keys, only while a DLQ is set), and so is the fact that it dead-lettered a message above its
 * committed position, so a restart neither resets the counts nor dead-letters a message twice.
 *
 * Groups start at `earliest`, `latest`, an offset or a timestamp, and can seek (replay) the same way.
 */
import { ErrorCodes, FerryError } from '../protocol/errors.js';
import type { DeadLetterReason, NackResult, StreamGroupInfo, StreamPosition } from '../protocol/ops.js';
import type { GroupDelivery, StreamGroupRecord } from '../storage/records.js';
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

/** The queue's dead-letter queue, as the groups use it. */
export interface GroupDeadLetters {
  /** The queue's maxReceives; undefined when it has no dead-letter queue. */
  maxReceives(): number | undefined;
  /** Writes the group's copy of `msg` to the outbox; false when the queue has no dead-letter queue. */
  deadLetter(msg: Msg, group: { name: string; gid: number }, receiveCount: number, reason: DeadLetterReason, now: number): boolean;
}

interface Delivery {
  receiveCount: number;
  firstReceivedAt: number;
  /** Lease end; 0 when not leased. */
  until: number;
  /** The push subscription holding the lease, if a push delivered it (released when its socket closes). */
  holder: object | undefined;
  /** Its 'C' record exists (written while the queue has a dead-letter queue). */
  persisted: boolean;
}

class Group {
  readonly deliveries = new Map<number, Delivery>();
  readonly redeliver = new Deque<number>();
  readonly acked = new Set<number>();
  /** Acknowledged by dead-lettering: their 'C' tombstones go when `committed` passes them. */
  readonly dead = new Set<number>();
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
    this.dead.clear();
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
  readonly #dlq: GroupDeadLetters;

  constructor(log: StreamLog, store: PartitionStore, dlq: GroupDeadLetters) {
    this.#log = log;
    this.#store = store;
    this.#dlq = dlq;
  }

  restore(name: string, r: StreamGroupRecord): void {
    const g = new Group(name, r.gid, r.committed, r.committed, r.createdAt);
    this.#byName.set(name, g);
    this.#byGid.set(r.gid, g);
  }

  /** Recovery, after `restore` of the groups: their receive counts and dead-lettered messages. */
  restoreDeliveries(records: readonly GroupDelivery[]): void {
    for (const r of records) {
      const g = this.#byGid.get(r.gid);
      if (g === undefined || r.seq < g.committed) {
        // Left behind (the committed position passed it just before a crash): drop it.
        this.#store.deleteGroupDelivery(r.gid, r.seq);
        continue;
      }
      if (r.done === true) {
        g.acked.add(r.seq);
        g.dead.add(r.seq);
      } else {
        // No lease survives a restart: the count stays, the group reads the message again from `committed`.
        g.deliveries.set(r.seq, { receiveCount: r.receiveCount, firstReceivedAt: r.firstReceivedAt, until: 0, holder: undefined, persisted: true });
      }
    }
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
    this.#store.clearGroupDeliveries(g.gid);
  }

  seek(name: string, to: StreamPosition): StreamGroupInfo {
    const g = this.#group(name);
    g.reset(this.#resolve(to));
    this.#store.clearGroupDeliveries(g.gid);
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
    const maxReceives = this.#dlq.maxReceives();
    const lease = (seq: number, msg: Msg): void => {
      let d = g.deliveries.get(seq);
      // Used up (maxReceives lowered, or counted before a restart): dead-lettered, never delivered.
      if (d !== undefined && maxReceives !== undefined && d.receiveCount >= maxReceives) {
        this.#deadLetter(g, seq, d, 'maxReceives', now);
        return;
      }
      d ??= { receiveCount: 0, firstReceivedAt: now, until: 0, holder: undefined, persisted: false };
      d.receiveCount++;
      d.until = now + visibilityMs;
      d.holder = holder;
      g.deliveries.set(seq, d);
      g.leased++;
      g.deadlines.push({ at: d.until, seq });
      if (maxReceives !== undefined) {
        this.#store.putGroupDelivery(g.gid, seq, { receiveCount: d.receiveCount, firstReceivedAt: d.firstReceivedAt });
        d.persisted = true;
      }
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
      // Acknowledged above the position only when dead-lettered before a restart.
      if (!g.acked.has(seq) && this.#log.deliverable(msg, now)) lease(seq, msg);
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
    this.#acked(g, seq, d);
    this.#advance(g);
    return true;
  }

  /** changeVisibility: the lease ends now (ms 0; maxReceives applies) or at now + ms. */
  release(gid: number, seq: number, receiveCount: number, ms: number, now: number, field: string): number {
    const { g, d } = this.#leasedDelivery(gid, seq, receiveCount, field);
    if (ms === 0) {
      this.#leaseEnded(g, seq, d, now, true);
      return now;
    }
    d.until = now + ms;
    g.deadlines.push({ at: d.until, seq });
    return d.until;
  }

  /**
   * nack: `requeue` false rejects the message for this group (dead-lettered with reason `rejected`,
   * or just acknowledged without a DLQ); else it comes back to the group now or after `delayMs`,
   * unless it used up its receives (dead-lettered at once, as in queue mode).
   */
  nack(gid: number, seq: number, receiveCount: number, requeue: boolean, delayMs: number, now: number, field: string): NackResult {
    const { g, d } = this.#leasedDelivery(gid, seq, receiveCount, field);
    if (!requeue) {
      const dead = this.#deadLetter(g, seq, d, 'rejected', now);
      return dead ? { deadLettered: true } : { deleted: true };
    }
    if (this.#exhausted(d)) {
      this.#deadLetter(g, seq, d, 'maxReceives', now);
      return { deadLettered: true };
    }
    if (delayMs === 0) {
      this.#leaseEnded(g, seq, d, now, true);
      return { visibleAt: now };
    }
    d.until = now + delayMs;
    g.deadlines.push({ at: d.until, seq });
    return { visibleAt: d.until };
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
  releaseHolder(name: string, holder: object, now: number): void {
    const g = this.#byName.get(name);
    if (g === undefined) return;
    const released: Array<[number, Delivery]> = [];
    for (const [seq, d] of g.deliveries) if (d.holder === holder && d.until !== 0) released.push([seq, d]);
    // In front of the redelivery line, in log order.
    released.sort((x, y) => y[0] - x[0]);
    for (const [seq, d] of released) this.#leaseEnded(g, seq, d, now, true);
  }

  /** Ends leases that ran out; returns true if any did (a waiting receive may now be served). */
  tick(now: number): boolean {
    let any = false;
    for (const g of this.#byName.values()) {
      for (let top = g.deadlines.peek(); top !== undefined && top.at <= now; top = g.deadlines.peek()) {
        g.deadlines.pop();
        const d = g.deliveries.get(top.seq);
        if (d === undefined || d.until !== top.at) continue;
        this.#leaseEnded(g, top.seq, d, now, false);
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
      this.#store.clearGroupDeliveries(g.gid);
      this.#persist(g);
    }
  }

  get leased(): number {
    let n = 0;
    for (const g of this.#byName.values()) n += g.leased;
    return n;
  }

  #leasedDelivery(gid: number, seq: number, receiveCount: number, field: string): { g: Group; d: Delivery } {
    const g = this.#byGid.get(gid);
    if (g === undefined) throw new FerryError(ErrorCodes.ReceiptHandleIsInvalid, `${field} belongs to a consumer group that no longer exists`, { field });
    const d = this.#current(g, seq, receiveCount, field);
    if (d === undefined || d.until === 0) {
      throw new FerryError(ErrorCodes.ReceiptHandleExpired, `${field}: the message is not leased any more`, { field });
    }
    return { g, d };
  }

  #exhausted(d: Delivery): boolean {
    const max = this.#dlq.maxReceives();
    return max !== undefined && d.receiveCount >= max;
  }

  /**
   * A lease of the group ended (expired, nack, changeVisibility 0, the subscriber's socket closed):
   * back on the group's redelivery line (`front`: next), or dead-lettered by the group when that
   * was its maxReceives-th delivery.
   */
  #leaseEnded(g: Group, seq: number, d: Delivery, now: number, front: boolean): void {
    d.until = 0;
    d.holder = undefined;
    g.leased--;
    if (this.#exhausted(d)) {
      this.#deadLetter(g, seq, d, 'maxReceives', now);
      return;
    }
    if (front) g.redeliver.unshift(seq);
    else g.redeliver.push(seq);
  }

  /** The delivery is over for good for the group: acknowledged. */
  #acked(g: Group, seq: number, d: Delivery): void {
    if (d.until !== 0) g.leased--;
    if (d.persisted) this.#store.deleteGroupDelivery(g.gid, seq);
    g.deliveries.delete(seq);
    g.acked.add(seq);
  }

  /**
   * The group dead-letters its copy (to the queue's DLQ when it has one) and moves past it: it
   * counts as acknowledged for this group. A tombstone 'C' record keeps that across a restart
   * until `committed` passes the sequence. Returns true when a copy went to the DLQ.
   */
  #deadLetter(g: Group, seq: number, d: Delivery, reason: DeadLetterReason, now: number): boolean {
    const msg = this.#log.get(seq);
    const dead = msg !== undefined && this.#dlq.deadLetter(msg, g, d.receiveCount, reason, now);
    if (d.until !== 0) g.leased--;
    d.until = 0;
    g.deliveries.delete(seq);
    g.acked.add(seq);
    if (dead) {
      g.dead.add(seq);
      this.#store.putGroupDelivery(g.gid, seq, { receiveCount: d.receiveCount, firstReceivedAt: d.firstReceivedAt, done: true });
    } else if (d.persisted) {
      this.#store.deleteGroupDelivery(g.gid, seq);
    }
    this.#advance(g);
    return dead;
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
        if (g.dead.delete(s)) this.#store.deleteGroupDelivery(g.gid, s);
        g.committed++;
        continue;
      }
      if (this.#log.get(s) === undefined) {
        // Trimmed while delivered: nothing left to acknowledge.
        const d = g.deliveries.get(s)!;
        if (d.until !== 0) g.leased--;
        if (d.persisted) this.#store.deleteGroupDelivery(g.gid, s);
        g.deliveries.delete(s);
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
