/**
 * QueueActor: the state machine of one queue partition. No sockets, no threads, no timers, no
 * awaits: the host feeds it requests and the current time, and it answers through an ActorOutbox
 * and writes through a PartitionStore (both in ports.ts). The host commits the store once per turn
 * and only then releases the outbox, so everything the actor says is already durable.
 *
 * Message life cycle (queue style, SQS-like; docs/queue-semantics.md has the full rules):
 *
 *   send ─► HELD ─(ordering window)─► DELAYED ─(delay over)─► VISIBLE ─(receive/push)─► LEASED ─(delete)─► gone
 *                                       ▲                       ▲  ▲                      │
 *                                       └─ nack(delay > 0) ─────┼──┼──────────────────────┤
 *                                                               │  └─ lease expired, nack(0), changeVisibility(0),
 *                                                               │     the push subscription's socket closed
 *   Any state ─► gone (dead-lettered or dropped): retention/ttl expiry, maxReceives reached at the
 *   end of a lease, nack with requeue false, overflow dropHead, queue deleted.
 *
 * Every delivery bumps the receive count, which is part of the receipt: a receipt from an earlier
 * delivery is refused once the message was delivered again. A delivery writes nothing per message
 * unless the queue has a dead-letter queue (maxReceives must survive a restart: then the count is
 * stored with the lease). Otherwise the actor stages once per turn a delivered mark (every message
 * below it may have been delivered), and recovery counts one delivery for each message below the
 * mark, so a message leased at a crash still comes back with receiveCount ≥ 2. Receipts carry the
 * actor's run (random per start), so no receipt of an earlier run matches a delivery of this one.
 * A removal (ack, expiry, dead letter) writes nothing per message either when every message below
 * it is gone too: the turn stages a gone mark instead (#settleRemovals), and the store clears the
 * keys below it by range.
 *
 * Policies live in their own modules: delivery-order.ts (relaxed fairness / strict FIFO per
 * group), dedup-window.ts, ordering-window.ts, dead-letter.ts (records for moves to other queues).
 *
 * Memory: a plain message (relaxed queue, visible, never delivered, no attributes, group or ttl)
 * is not an object but about a byte in the backlog (backlog.ts), its body, while the shard's body
 * cache has room, packed in the backlog's body queue (body-queue.ts). It becomes a full message
 * ("promoted", appended to the live map) when it is delivered, expired, dropped or moved;
 * everything else only ever sees full messages.
 */
import { randomInt } from 'node:crypto';
import { mergeAttributes, sameAttributeValue } from '../protocol/attributes.js';
import { ErrorCodes, FerryError, toWireError, type WireError } from '../protocol/errors.js';
import { Limits } from '../protocol/limits.js';
import { SendOk } from '../protocol/cbor-writer.js';
import type {
  BatchEntryResult, DeadLetterReason, DeleteReceiptsResult, DeliveredMessage, NackResult, OpArgs, QueueAttributes, QueueStats, SendEntry, SendResult,
} from '../protocol/ops.js';
import { forwardIdString, type ForwardId } from '../storage/keys.js';
import { messageIds, messageIdWriter } from '../storage/message-id.js';
import type { GroupDelivery, ForwardedMessage, MessageExtra, QueueRecord, RecoveredMessage, StoredMessage, DedupRecord, StreamGroupRecord } from '../storage/records.js';
import { deadLetterRecord, redriveRecord } from './dead-letter.js';
import { dedupIdOf, DedupWindow } from './dedup-window.js';
import { Backlog } from './backlog.js';
import { BodyQueue } from './body-queue.js';
import { NoOrder, RelaxedOrder, StrictOrder, type Backlogged, type DeliveryOrder } from './delivery-order.js';
import { StreamGroups, type StreamDelivery } from './stream-groups.js';
import { DeadlineHeap, LeaseGroupHeap, type LeaseGroup } from './min-heap.js';
import { DERIVED_ID, State, type Msg } from './message.js';
import { HeldLeases } from './held-leases.js';
import { SeqTable } from './seq-table.js';
import { keyOf, OrderingWindow } from './ordering-window.js';
import { qidHalves, readReceipt, readReceiptBytes, RECEIPT_CHARS, receiptString, type ReceiptFields } from './receipt.js';
import { DeliveredList, LeasedDeliveries, deliveredMessage, type DerivedIds } from './deliveries.js';
import type { ActorOutbox, BodyCache, PartitionStore } from './ports.js';

interface Waiter<Ref> {
  ref: Ref;
  session: number;
  /** Stream mode: the consumer group it reads for. */
  group: string | undefined;
  max: number;
  visibilityMs: number;
  deadline: number;
}

interface Subscription {
  session: number;
  sub: number;
  /** Stream mode: the consumer group it reads for. */
  group: string | undefined;
  credit: number;
  visibilityMs: number;
  /** The leases this subscription holds; they end when its socket closes. */
  leases: HeldLeases;
}

/** A message arriving from another queue (dead-lettering, redrive, unroutable sends). */
export interface InsertItem {
  /** The queue id and sequence it leaves (and the stream group that dead-lettered it); makes a replayed insert idempotent. Absent for unroutable sends. */
  origin?: ForwardId;
  message: ForwardedMessage;
}

/** A request as the host hands it over; `args` were validated for shape on the main thread. */
export type ActorRequest<Ref> =
  | { op: 'send'; ref: Ref; args: OpArgs<'send'> }
  | { op: 'sendBatch'; ref: Ref; args: OpArgs<'sendBatch'> }
  | { op: 'receive'; ref: Ref; session: number; args: OpArgs<'receive'> }
  | { op: 'delete'; ref: Ref; args: OpArgs<'delete'> }
  | { op: 'deleteBatch'; ref: Ref; args: OpArgs<'deleteBatch'> }
  | { op: 'deleteReceipts'; ref: Ref; args: OpArgs<'deleteReceipts'> }
  | { op: 'changeVisibility'; ref: Ref; args: OpArgs<'changeVisibility'> }
  | { op: 'nack'; ref: Ref; args: OpArgs<'nack'> }
  | { op: 'subscribe'; ref: Ref; session: number; sub: number; args: OpArgs<'subscribe'> }
  | { op: 'credit'; ref: Ref; session: number; args: OpArgs<'credit'> }
  | { op: 'unsubscribe'; ref: Ref; session: number; args: OpArgs<'unsubscribe'> }
  | { op: 'getQueueAttributes'; ref: Ref }
  | { op: 'setQueueAttributes'; ref: Ref; args: OpArgs<'setQueueAttributes'> }
  | { op: 'purgeQueue'; ref: Ref }
  | { op: 'createQueue'; ref: Ref; args: OpArgs<'createQueue'> }
  | { op: 'deleteQueue'; ref: Ref }
  | { op: 'createGroup'; ref: Ref; args: OpArgs<'createGroup'> }
  | { op: 'deleteGroup'; ref: Ref; args: OpArgs<'deleteGroup'> }
  | { op: 'listGroups'; ref: Ref; args: OpArgs<'listGroups'> }
  | { op: 'seek'; ref: Ref; args: OpArgs<'seek'> }
  /** Internal: messages moved here from another queue. Answer: {inserted, duplicates}. */
  | { op: 'insert'; ref: Ref; args: { items: InsertItem[] } }
  /** Internal: one slice of a redrive task. Answer: {moved, remaining}. */
  | { op: 'redriveBatch'; ref: Ref; args: { max: number; target?: string } }
  /**
   * Internal (partitioned queues, supervisor/cluster/layout.ts): store the entries only if this
   * queue holds a message of strict group `group` now. Answer: {results} as sendBatch, or {notHere: true}.
   */
  | { op: 'sendIfGroup'; ref: Ref; args: { group: string; entries: SendEntry[] } }
  /** Internal: the strict groups this queue holds messages of. Answer: {groups}. */
  | { op: 'heldGroups'; ref: Ref };

/** The marks a queue's 'S' record keeps besides its high-water mark (keys.ts), as recovery read them. */
export interface QueueMarks {
  deliveredBelow: number;
  goneBelow: number;
}

export interface QueueActorDeps<Ref> {
  store: PartitionStore;
  outbox: ActorOutbox<Ref>;
  bodies: BodyCache;
}

const EMPTY = new Uint8Array(0);

/**
 * A body to keep in memory, in a buffer that holds little else: bodies arrive as views into the
 * buffer of a whole turn's sends (packing.ts), which one cached body must not keep alive for as
 * long as it stays queued. Small copies come from Node's buffer pool (no allocation of their own).
 */
function ownBuffer(body: Uint8Array): Uint8Array {
  return body.buffer.byteLength <= 2 * body.byteLength ? body : Buffer.from(body);
}

/** The earlier of two times, either possibly undefined (none). */
function earlier(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || (b !== undefined && b < a) ? b : a;
}

/** firstReceivedAt of a message recovery counted as delivered (below the delivered mark): the time is not known. */
const UNKNOWN_TIME = -1;

/** Lease-end entries allowed beyond twice the leased messages before the stale ones are dropped. */
const LEASE_ENDS_SLACK = 64;

/**
 * How far ahead of the deliveries the delivered mark is written (queue mode). A message below the
 * mark counts one delivery after a restart, so a mark on disk before a push lets the push leave
 * without waiting for the fsync of its own turn (#pushWaits). Written ahead, the mark is on disk
 * long before the deliveries reach it; the cost is that after a crash up to this many messages
 * that were next in line, never delivered, count one delivery they did not have (an over-count,
 * which "may have been delivered" allows; never an under-count).
 */
const DELIVERED_MARK_AHEAD = 4096;

export class QueueActor<Ref> {
  readonly #store: PartitionStore;
  readonly #out: ActorOutbox<Ref>;
  readonly #bodies: BodyCache;
  #record: QueueRecord;
  #nextSeq: number;
  #nextSeqDirty = false;
  /**
   * Every message below this sequence may have been delivered (queue mode; staged with the
   * high-water mark, up to DELIVERED_MARK_AHEAD beyond the last delivery).
   */
  #deliveredBelow: number;
  /** The delivered mark as last staged, the batch it was staged in, and the highest one known durable. */
  #markStaged: number;
  #markBatch = 0;
  #markDurable: number;
  /**
   * Every message below this sequence left the queue (staged with the high-water mark; see
   * #settleRemovals). Messages removed below it need no delete of their own.
   */
  #goneBelow: number;
  /** Messages removed this turn whose records are not yet deleted (#settleRemovals decides how). */
  #removed: number[] = [];
  /** Set when some message may have a stored delivery record ('D'): acks then delete it too. */
  #deliveryRecords: boolean;
  /** This start of the actor, carried in its receipts (receipt.ts). */
  readonly #run = randomInt(0, 0x1_0000_0000);
  /** Message ids of this queue incarnation, by sequence. */
  readonly #idOf: (seq: number) => string;
  /** The same ids, as a push writes them (deliveries.ts). */
  readonly #ids: DerivedIds;
  /** The queue id's halves, as receipts carry them (receipt.ts). */
  readonly #qidHi: number;
  readonly #qidLo: number;
  /**
   * Live messages by sequence, except those in #backlog. Insertion order is acceptance order, so the
   * first is the oldest of them; a promoted message joins at the end (see #oldestForRemoval). A
   * SeqTable, not a Map: one set and one delete per delivered message (seq-table.ts says why).
   */
  #messages = new SeqTable<Msg>();
  /** Plain visible messages as compact entries (backlog.ts); older than any message promoted after them. */
  readonly #backlog = new Backlog();
  /** Bodies of backlog messages kept in memory, in the same order (body-queue.ts). */
  readonly #backlogBodies: BodyQueue;
  readonly #backlogged: Backlogged = {
    peekSeq: () => this.#backlog.peekSeq(),
    promote: () => this.#promote(),
  };
  #order: DeliveryOrder;
  /** Lease ends and delay ends. Stale entries are skipped when they surface. */
  readonly #deadlines = new DeadlineHeap();
  /**
   * Lease ends of deliveries, one entry per receive or push (profiled: a heap entry per delivered
   * message was an allocation and a sift per message, and a stale entry per acked message to pop
   * once its lease would have ended). A lease moved by changeVisibility goes to #deadlines.
   */
  readonly #leaseEnds = new LeaseGroupHeap();
  /** Per-message ttl ends (retention needs no heap: the oldest message expires first). */
  #ttls = new DeadlineHeap();
  #ttlLive = 0;
  readonly #window = new OrderingWindow();
  readonly #dedup = new DedupWindow();
  /** Forwards accepted from other queues, forwardIdString(origin) (see InsertItem.origin). */
  readonly #markers = new Set<string>();
  #waiters: Array<Waiter<Ref>> = [];
  readonly #subs = new Map<string, Subscription>();
  #subRotation = 0;
  #counts = { visible: 0, leased: 0, delayed: 0, held: 0, bytes: 0 };
  readonly #counters = { expired: 0, deadLettered: 0, dropped: 0, late: 0, duplicates: 0 };
  #destroyed = false;
  /** Stream mode only: the consumer groups. */
  readonly #stream: StreamGroups | undefined;

  constructor(record: QueueRecord, nextSeq: number, deps: QueueActorDeps<Ref>, marks: QueueMarks = { deliveredBelow: 0, goneBelow: 0 }) {
    this.#record = record;
    this.#nextSeq = nextSeq;
    this.#deliveredBelow = marks.deliveredBelow;
    this.#markStaged = marks.deliveredBelow;
    this.#markDurable = marks.deliveredBelow; // read from the store: on disk
    this.#goneBelow = Math.max(marks.goneBelow, record.purgedBelow);
    this.#deliveryRecords = record.attributes.deadLetter !== null;
    this.#idOf = messageIds(record.id);
    this.#ids = { text: this.#idOf, write: messageIdWriter(record.id) };
    ({ hi: this.#qidHi, lo: this.#qidLo } = qidHalves(record.id));
    this.#store = deps.store;
    this.#out = deps.outbox;
    this.#bodies = deps.bodies;
    this.#backlogBodies = new BodyQueue(deps.bodies);
    this.#order = newOrder(record.attributes, this.#backlogged);
    if (record.attributes.mode === 'stream') {
      const messages = this.#messages;
      const actor = this;
      this.#stream = new StreamGroups({
        get: (seq) => messages.get(seq),
        get nextSeq() {
          return actor.#nextSeq;
        },
        oldestSeq: () => this.#oldest()?.seq,
        firstAtOrAfter: (ts) => {
          for (const m of messages.values()) if (m.sentAt >= ts) return m.seq;
          return this.#nextSeq;
        },
        deliverable: (msg, now) => !this.#isExpired(msg, now),
      }, this.#store, {
        maxReceives: () => this.#attrs.deadLetter?.maxReceives,
        deadLetter: (msg, group, receiveCount, reason, now) => {
          const target = this.#attrs.deadLetter;
          if (target === null) return false;
          const record = deadLetterRecord(msg, this.#bodyOf(msg), target.queue, reason, this.name, now, { name: group.name, receiveCount });
          this.#store.putForward(msg.seq, record, group.gid);
          this.#counters.deadLettered++;
          return true;
        },
      });
    }
  }

  get name(): string {
    return this.#record.name;
  }

  get id(): string {
    return this.#record.id;
  }

  get record(): Readonly<QueueRecord> {
    return this.#record;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  get #attrs(): QueueAttributes {
    return this.#record.attributes;
  }

  /**
   * Loads one message found by recovery; call in acceptance order (sequence order; for a queue
   * with an ordering window, (timestamp, producer, seq) order) before any request.
   */
  restore(m: RecoveredMessage, now: number): void {
    if (m.seq >= this.#nextSeq) this.#nextSeq = m.seq + 1;
    // The body stays in memory if the shard's body cache has room (a copy: m.body may be a view
    // into a row the store reuses); otherwise it is read from the store on delivery.
    const delivered = m.delivery !== undefined || m.seq < this.#deliveredBelow;
    if (m.visibleAt <= now && this.#plain(m.attributes, m.extra, delivered, m.sentAt)) {
      // Plain: into the backlog without an object (a backlog of millions recovers in bounded memory).
      // A record of an earlier version that stored its id is read again on delivery, id and body.
      if (m.body !== undefined && m.id === undefined) this.#backlogBodies.push(m.seq, m.body);
      this.#pushBacklog(m.seq, m.sentAt, m.size);
      return;
    }
    const body = m.body !== undefined && this.#bodies.admit(m.size) ? new Uint8Array(m.body) : undefined;
    const msg = this.#newMsg(m.seq, m.id ?? this.#idOf(m.seq), m.sentAt, m.size, body, m.attributes, m.extra);
    if (m.delivery !== undefined) {
      msg.receiveCount = m.delivery.receiveCount;
      msg.firstReceivedAt = m.delivery.firstReceivedAt;
      this.#deliveryRecords = true;
    } else if (delivered) {
      // It may have been delivered before the restart: count that delivery (at-least-once consumers
      // see receiveCount ≥ 2 next time), its time unknown.
      msg.receiveCount = 1;
      msg.firstReceivedAt = UNKNOWN_TIME;
    }
    this.#admit(msg);
    const windowMs = this.#attrs.orderingWindowMs;
    if (windowMs > 0 && m.extra?.late !== true) {
      const key = keyOf(msg);
      if (key.timestamp + windowMs > now) {
        this.#hold(msg, m.visibleAt);
        return;
      }
      this.#window.passed(key);
    }
    // Leases do not survive a restart: a leased-but-undeleted message is visible again at once.
    this.#order.accepted(msg);
    if (m.visibleAt > now) this.#delay(msg, m.visibleAt);
    else this.#makeVisible(msg, false);
  }

  /** Recovery: forwards this queue already accepted, the dedup window, stream groups and their receive counts. */
  restoreIndexes(
    markers: readonly string[], dedup: ReadonlyArray<{ id: string } & DedupRecord>, groups: ReadonlyArray<{ name: string } & StreamGroupRecord> = [],
    groupDeliveries: readonly GroupDelivery[] = [],
  ): void {
    for (const g of groups) this.#stream?.restore(g.name, g);
    this.#stream?.restoreDeliveries(groupDeliveries);
    for (const k of markers) this.#markers.add(k);
    for (const d of [...dedup].sort((a, b) => a.at - b.at)) this.#dedup.remember(d.id, { messageId: d.messageId, seq: d.seq, at: d.at });
  }

  handle(req: ActorRequest<Ref>, now: number): void {
    try {
      if (this.#destroyed) throw new FerryError(ErrorCodes.QueueDoesNotExist, `queue ${this.name} does not exist`, { field: 'queue' });
      this.#dispatch(req, now);
    } catch (err) {
      this.#out.fail(req.ref, toWireError(err));
    }
  }

  #dispatch(req: ActorRequest<Ref>, now: number): void {
    const out = this.#out;
    switch (req.op) {
      case 'send':
        return out.reply(req.ref, this.#send(req.args, now));
      case 'sendBatch':
        return out.reply(req.ref, { results: this.#sendBatch(req.args.entries, now) });
      case 'receive':
        return this.#receive(req.ref, req.session, req.args, now);
      case 'delete':
        return out.reply(req.ref, this.#delete(req.args.receipt, 'receipt'));
      case 'deleteBatch':
        return out.reply(req.ref, { results: this.#deleteBatch(req.args.receipts) });
      case 'deleteReceipts':
        return out.reply(req.ref, this.#deleteReceipts(req.args.receipts));
      case 'changeVisibility':
        return out.reply(req.ref, { visibleAt: this.#changeVisibility(req.args.receipt, req.args.visibilityMs, now) });
      case 'nack':
        return out.reply(req.ref, this.#nack(req.args, now));
      case 'subscribe':
        return this.#subscribe(req.ref, req.session, req.sub, req.args);
      case 'credit': {
        const sub = this.#subscription(req.session, req.args.sub);
        sub.credit = Math.min(Limits.maxCredit, sub.credit + req.args.credit);
        return out.reply(req.ref, { credit: sub.credit });
      }
      case 'unsubscribe':
        // Leases stay until deleted or expired: the consumer may still be finishing its messages.
        this.#subscription(req.session, req.args.sub);
        this.#subs.delete(subKey(req.session, req.args.sub));
        return out.reply(req.ref, { unsubscribed: true });
      case 'getQueueAttributes':
        return out.reply(req.ref, { queue: this.name, attributes: this.#attrs, stats: this.stats(now), createdAt: this.#record.createdAt });
      case 'setQueueAttributes':
        return out.reply(req.ref, { attributes: this.#setAttributes(req.args.attributes, now) });
      case 'createQueue':
        return this.#createAgain(req.ref, req.args.attributes ?? {});
      case 'purgeQueue':
        return out.reply(req.ref, { purged: this.#purge() });
      case 'deleteQueue':
        this.#destroy(now);
        return out.reply(req.ref, { deleted: true });
      case 'insert':
        return out.reply(req.ref, this.#insert(req.args.items, now));
      case 'redriveBatch':
        return out.reply(req.ref, this.#redriveBatch(req.args.max, req.args.target));
      case 'sendIfGroup':
        // The check and the store are one step of the actor: no delete can slip between them.
        if (!(this.#order instanceof StrictOrder) || !this.#order.holds(req.args.group)) return out.reply(req.ref, { notHere: true });
        return out.reply(req.ref, { results: this.#sendBatch(req.args.entries, now) });
      case 'heldGroups':
        return out.reply(req.ref, { groups: this.#order instanceof StrictOrder ? this.#order.heldGroups() : [] });
      case 'createGroup':
        return out.reply(req.ref, this.#streamGroups().create(req.args.group, req.args.start ?? 'latest', now));
      case 'deleteGroup':
        this.#streamGroups().delete(req.args.group);
        return out.reply(req.ref, { deleted: true });
      case 'listGroups':
        return out.reply(req.ref, { groups: this.#streamGroups().list() });
      case 'seek':
        return out.reply(req.ref, this.#streamGroups().seek(req.args.group, req.args.to));
    }
  }

  /**
   * Sends each entry; a failed entry's error becomes its result, with the entry's path (`entries.N`)
   * made only then: a queue of small batches (issue 5's queues-10k: 10 per request) paid a closure
   * and a path string per message here.
   */
  #sendBatch(entries: readonly SendEntry[], now: number): Array<BatchEntryResult<SendResult>> {
    const results = new Array<BatchEntryResult<SendResult>>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      try {
        results[i] = new SendOk(this.#send(entries[i]!, now));
      } catch (err) {
        results[i] = entryError(err, `entries.${i}`);
      }
    }
    return results;
  }

  #newMsg(seq: number, id: string, sentAt: number, size: number, body: Uint8Array | undefined, attributes: Msg['attributes'], extra: MessageExtra | undefined): Msg {
    return {
      seq, id, sentAt, size, body, attributes, receiveCount: 0, firstReceivedAt: 0, state: State.Visible, until: 0,
      expiresAt: extra?.ttlMs === undefined ? Infinity : sentAt + extra.ttlMs, group: extra?.groupId ?? '', extra, holder: undefined,
    };
  }

  /** Puts a message into the live set (counts, expiry); the caller then places it (hold/delay/visible). */
  #admit(msg: Msg): void {
    this.#messages.set(msg);
    this.#counts.bytes += msg.size;
    if (msg.expiresAt !== Infinity) {
      this.#ttlLive++;
      this.#ttls.push({ at: msg.expiresAt, seq: msg.seq });
    }
  }

  /**
   * A plain message that is visible now goes into the compact backlog instead of the live map
   * (counted as visible, as any), its body into the backlog's body queue if the cache has room.
   * Returns false, changing nothing, when it is not plain.
   */
  #toBacklog(msg: Msg, body: Uint8Array): boolean {
    if (!this.#plain(msg.attributes, msg.extra, msg.receiveCount !== 0, msg.sentAt)) return false;
    this.#backlogBodies.push(msg.seq, body);
    this.#pushBacklog(msg.seq, msg.sentAt, msg.size);
    return true;
  }

  /**
   * Whether a message with these fields may live in the backlog (no object): this queue keeps a
   * backlog (queue mode, relaxed order, no ordering window), and the message has no attributes or
   * optional fields, no delivery yet, and a whole-millisecond send time.
   */
  #plain(attributes: Msg['attributes'], extra: MessageExtra | undefined, delivered: boolean, sentAt: number): boolean {
    return this.#stream === undefined && this.#attrs.ordering !== 'strict' && this.#attrs.orderingWindowMs <= 0
      && attributes === undefined && extra === undefined && !delivered && Number.isInteger(sentAt);
  }

  #pushBacklog(seq: number, sentAt: number, size: number): void {
    this.#backlog.push(seq, sentAt, size);
    this.#counts.bytes += size;
    this.#counts.visible++;
    (this.#order as RelaxedOrder).backlogged();
  }

  /**
   * The backlog's first message as a full one in the live map, still visible (and counted so). A
   * body kept in the body queue comes along, counted from now on as any message's (`#remove`
   * releases it); without one, id and body are read from the store when needed.
   */
  #promote(): Msg {
    const e = this.#backlog.peek()!;
    const body = this.#backlogBodies.take(e.seq);
    const msg = this.#newMsg(e.seq, DERIVED_ID, e.sentAt, e.size, body, undefined, undefined);
    this.#backlog.drop();
    if (body !== undefined) this.#bodies.charge(msg.size);
    this.#messages.set(msg);
    return msg;
  }

  /** Messages held, in the live map and in the backlog. */
  get #size(): number {
    return this.#messages.size + this.#backlog.length;
  }

  /** Would one more message of `size` bytes pass maxLength or maxBytes? */
  #full(size: number): boolean {
    const a = this.#attrs;
    return (a.maxLength > 0 && this.#size + 1 > a.maxLength) || (a.maxBytes > 0 && this.#counts.bytes + size > a.maxBytes);
  }

  #send(entry: SendEntry, now: number): SendResult {
    const a = this.#attrs;
    const size = entry.body.byteLength;
    if (size === 0) throw new FerryError(ErrorCodes.EmptyBody, 'body must not be empty', { field: 'body' });
    if (size > a.maxMessageBytes) throw new FerryError(ErrorCodes.BodyTooLarge, `body is ${size} bytes; queue ${this.name} accepts at most ${a.maxMessageBytes}`, { field: 'body' });
    if (entry.ttlMs !== undefined && entry.ttlMs > a.retentionMs) {
      throw new FerryError(ErrorCodes.ValueOutOfRange, `ttlMs ${entry.ttlMs} is longer than queue ${this.name}'s retentionMs ${a.retentionMs}`, { field: 'ttlMs' });
    }
    // Dedup first: a duplicate is "accepted again" even when the queue is full now.
    let dedupId: string | undefined;
    if (a.dedupWindowMs > 0) {
      dedupId = dedupIdOf(entry.dedupId, entry.body, a.contentDedup);
      for (const gone of this.#dedup.prune(now, a.dedupWindowMs)) this.#store.deleteDedup(gone);
      const hit = dedupId === undefined ? undefined : this.#dedup.lookup(dedupId, now, a.dedupWindowMs);
      if (hit !== undefined) {
        this.#counters.duplicates++;
        return { messageId: hit.messageId, seq: hit.seq, duplicate: true };
      }
    }
    let deadLetterNew = false;
    if (this.#full(size)) {
      if ((a.overflow === 'reject' && this.#stream === undefined) || (a.maxBytes > 0 && size > a.maxBytes)) {
        throw new FerryError(ErrorCodes.QueueFull, `queue ${this.name} is full (maxLength ${a.maxLength || 'none'}, maxBytes ${a.maxBytes || 'none'}; overflow ${a.overflow})`, { field: 'queue' });
      }
      if (a.overflow === 'dropHead' || this.#stream !== undefined) {
        for (let oldest = this.#oldestForRemoval(); oldest !== undefined && this.#full(size); oldest = this.#full(size) ? this.#oldestForRemoval() : undefined) {
          this.#deadLetterOrDrop(oldest, 'overflow', now);
        }
      } else {
        deadLetterNew = true;
      }
    }
    // The stored message itself keeps its sequence from being used again after a restart (recovery
    // starts above the highest stored one), so a send stages no high-water mark (`S`, once per
    // touched queue per turn: with 10,000 queues a write for every few messages); a message that
    // leaves the store (#unstore) or a sequence used without one does.
    const seq = this.#nextSeq++;
    const id = this.#idOf(seq);
    const extra = sendExtra(entry, dedupId);
    const msg = this.#newMsg(seq, id, now, size, undefined, entry.attributes, extra);
    if (dedupId !== undefined) this.#remember(dedupId, { messageId: id, seq, at: now });
    if (deadLetterNew) {
      // overflow deadLetterNew: the new message goes straight to the dead-letter queue.
      this.#nextSeqDirty = true;
      this.#store.putForward(seq, deadLetterRecord(msg, entry.body, a.deadLetter!.queue, 'overflow', this.name, now));
      this.#counters.deadLettered++;
      return { messageId: id, seq, deadLettered: true };
    }
    const windowMs = a.orderingWindowMs;
    let held = false;
    if (windowMs > 0) {
      const key = keyOf(msg);
      if (this.#window.isLate(key)) {
        msg.extra = { ...msg.extra, late: true };
        this.#counters.late++;
      } else {
        held = true;
      }
    }
    const visibleAt = now + (entry.delayMs ?? a.delayMs);
    this.#store.putMessage(seq, stored(now, visibleAt, entry.body, entry.attributes, msg.extra));
    if (!held && visibleAt <= now && this.#toBacklog(msg, entry.body)) return { messageId: id, seq };
    msg.body = this.#bodies.admit(size) ? ownBuffer(entry.body) : undefined;
    this.#admit(msg);
    if (held) {
      this.#hold(msg, visibleAt);
    } else {
      this.#order.accepted(msg);
      if (visibleAt > now) this.#delay(msg, visibleAt);
      else this.#makeVisible(msg, false);
    }
    return { messageId: id, seq };
  }

  #remember(id: string, record: DedupRecord): void {
    this.#dedup.remember(id, record);
    this.#store.putDedup(id, record);
  }

  /** The live map's oldest message (stream mode has no backlog: its oldest). */
  #oldest(): Msg | undefined {
    // A queue whose messages all wait in the backlog has none here: no iterator made for that.
    return this.#messages.first();
  }

  /** Send time of the oldest message held, the backlog included. */
  #oldestSentAt(): number | undefined {
    const m = this.#oldest();
    const b = this.#backlog.peekSeq();
    return b !== undefined && (m === undefined || b < m.seq) ? this.#backlog.peekSentAt() : m?.sentAt;
  }

  /**
   * The oldest message held, promoted out of the backlog if it is there, for the caller to remove.
   * A message promoted earlier (delivered, then visible again) sits at the end of the live map, so
   * retention reaches it when it is next delivered or its lease ends rather than strictly by age.
   */
  #oldestForRemoval(): Msg | undefined {
    const m = this.#oldest();
    const b = this.#backlog.peekSeq();
    return b !== undefined && (m === undefined || b < m.seq) ? this.#promote() : m;
  }

  #hold(msg: Msg, visibleAt: number): void {
    msg.state = State.Held;
    msg.until = visibleAt;
    this.#counts.held++;
    this.#window.hold(msg);
  }

  /** Messages moved here from other queues. Never refused for length: a move must not get stuck. */
  #insert(items: readonly InsertItem[], now: number): { inserted: number; duplicates: number } {
    let inserted = 0;
    let duplicates = 0;
    for (const item of items) {
      const key = item.origin === undefined ? undefined : forwardIdString(item.origin);
      if (key !== undefined && this.#markers.has(key)) {
        duplicates++; // a replayed forward whose first copy already arrived
        continue;
      }
      const m = item.message;
      const seq = this.#nextSeq++; // stored below: no high-water mark needed (see #send)
      const id = this.#idOf(seq);
      const extra: MessageExtra = {};
      if (m.groupId !== undefined) extra.groupId = m.groupId;
      if (m.deadLetter !== undefined) extra.deadLetter = m.deadLetter;
      const hasExtra = Object.keys(extra).length > 0;
      this.#store.putMessage(seq, stored(now, now, m.body, m.attributes, hasExtra ? extra : undefined));
      const msg = this.#newMsg(seq, id, now, m.body.byteLength, undefined, m.attributes, hasExtra ? extra : undefined);
      msg.body = this.#bodies.admit(msg.size) ? m.body : undefined;
      this.#admit(msg);
      this.#order.accepted(msg);
      this.#makeVisible(msg, false);
      if (key !== undefined) {
        this.#markers.add(key);
        this.#store.putMarker(item.origin!);
      }
      inserted++;
    }
    return { inserted, duplicates };
  }

  /** The source dropped its outbox record for `origin`: the marker is no longer needed. */
  forget(origin: ForwardId): void {
    if (this.#markers.delete(forwardIdString(origin))) this.#store.deleteMarker(origin);
  }

  /** Moves up to `max` messages that are not leased to `target` (or each one's source queue). */
  #redriveBatch(max: number, target: string | undefined): { moved: number; remaining: number } {
    let moved = 0;
    const move = (msg: Msg): boolean => {
      if (msg.state === State.Leased || msg.state === State.Held) return false;
      const record = redriveRecord(msg, this.#bodyOf(msg), target);
      if (record === undefined) return false;
      this.#remove(msg);
      this.#unstore(msg.seq);
      this.#store.putForward(msg.seq, record);
      return true;
    };
    for (const msg of this.#messages.values()) {
      if (moved >= max) break;
      if (move(msg)) moved++;
    }
    // Backlog messages are plain, so they have no source queue: they move only to a named target.
    while (target !== undefined && moved < max && this.#backlog.length > 0) if (move(this.#promote())) moved++;
    return { moved, remaining: this.#size };
  }

  /** A message's body, read from the store if it is not in memory; its id is a string after this (dead-letter records carry it). */
  #bodyOf(msg: Msg): Uint8Array {
    let body = msg.body;
    if (body === undefined) {
      const stored = this.#store.readMessages([msg.seq])[0];
      this.#readId(msg, stored);
      body = stored?.body ?? EMPTY;
    }
    this.#idString(msg);
    return body;
  }

  /**
   * A promoted message's id, from its stored record just read: the id a record of an earlier
   * version stored; else it stays DERIVED_ID (records store none since ids are messageIdOf(queue, seq)).
   */
  #readId(msg: Msg, stored: StoredMessage | undefined): void {
    if (msg.id === DERIVED_ID && stored?.id !== undefined) msg.id = stored.id;
  }

  /** Makes a derived id a string, for what needs one (a dead-letter or redrive record); after its record was read if it has no body. */
  #idString(msg: Msg): void {
    if (msg.id === DERIVED_ID) msg.id = this.#idOf(msg.seq);
  }

  /**
   * Takes a message out of the queue for good: to the dead-letter queue when one is set (same
   * synced batch: message deleted + outbox record written), else it is dropped.
   */
  #deadLetterOrDrop(msg: Msg, reason: DeadLetterReason, now: number): boolean {
    // A stream trims its oldest messages (retention by time, count, bytes): that is not a dead letter.
    const target = this.#stream === undefined ? this.#attrs.deadLetter : null;
    if (reason === 'expired') this.#counters.expired++;
    if (target === null) {
      if (reason !== 'expired') this.#counters.dropped++;
      this.#remove(msg);
      this.#unstore(msg.seq);
      return false;
    }
    const body = this.#bodyOf(msg);
    this.#remove(msg);
    this.#unstore(msg.seq);
    this.#store.putForward(msg.seq, deadLetterRecord(msg, body, target.queue, reason, this.name, now));
    this.#counters.deadLettered++;
    return true;
  }

  #isExpired(msg: Msg, now: number): boolean {
    return now >= msg.expiresAt || now >= msg.sentAt + this.#attrs.retentionMs;
  }

  #receivesExhausted(msg: Msg): boolean {
    const dl = this.#attrs.deadLetter;
    return dl !== null && msg.receiveCount >= dl.maxReceives;
  }

  #streamGroups(): StreamGroups {
    if (this.#stream === undefined) {
      throw new FerryError(ErrorCodes.InvalidField, `queue ${this.name} is in queue mode; consumer groups belong to stream-mode queues`, { field: 'group' });
    }
    return this.#stream;
  }

  #receive(ref: Ref, session: number, args: OpArgs<'receive'>, now: number): void {
    const max = args.max ?? 1;
    const visibilityMs = args.visibilityMs ?? this.#attrs.visibilityMs;
    const waitMs = args.waitMs ?? this.#attrs.receiveWaitMs;
    let messages: DeliveredMessage[];
    if (this.#stream !== undefined) {
      if (args.group === undefined) throw new FerryError(ErrorCodes.MissingField, `group is required: queue ${this.name} is a stream`, { field: 'group' });
      messages = this.#takeStream(args.group, max, visibilityMs, now);
    } else {
      if (args.group !== undefined) this.#streamGroups();
      messages = this.#counts.visible > 0 ? this.#take(max, visibilityMs, now, undefined) : [];
    }
    if (messages.length > 0 || waitMs === 0) this.#out.reply(ref, { messages });
    else this.#waiters.push({ ref, session, group: args.group, max, visibilityMs, deadline: now + waitMs });
  }

  #takeStream(group: string, max: number, visibilityMs: number, now: number, holder?: Subscription): DeliveredMessage[] {
    const taken: StreamDelivery[] = this.#stream!.take(group, max, visibilityMs, now, holder);
    const missing = taken.filter((d) => d.msg.body === undefined);
    const read = this.#store.readMessages(missing.map((d) => d.msg.seq));
    const loaded = new Map(missing.map((d, i) => [d.msg.seq, read[i]?.body ?? EMPTY]));
    return taken.map((d) => {
      const m = deliveredMessage(d.msg, receiptString(this.#qidHi, this.#qidLo, d.msg.seq, d.receiveCount, d.gid), d.msg.body ?? loaded.get(d.msg.seq) ?? EMPTY);
      m.receiveCount = d.receiveCount;
      m.firstReceivedAt = d.firstReceivedAt;
      return m;
    });
  }

  /** A receipt of this queue incarnation (any run, any delivery), or ReceiptHandleIsInvalid. */
  #decodeReceipt(receipt: string, field: Field): ReceiptFields {
    return this.#checkReceipt(readReceipt(receipt), field);
  }

  /** `r` (a receipt as read, undefined if it was none) if it is of this queue incarnation, else ReceiptHandleIsInvalid. */
  #checkReceipt(r: ReceiptFields | undefined, field: Field): ReceiptFields {
    if (r === undefined || r.qidHi !== this.#qidHi || r.qidLo !== this.#qidLo || r.seq >= this.#nextSeq || r.receiveCount === 0) {
      throw new FerryError(ErrorCodes.ReceiptHandleIsInvalid, `${fieldName(field)} is not a receipt of queue ${this.name}`, { field: fieldName(field) });
    }
    return r;
  }

  /** Checks a queue-mode receipt against the current delivery of its message. */
  #resolveReceipt(receipt: string, field: Field): Msg | undefined {
    return this.#resolve(this.#decodeReceipt(receipt, field), field);
  }

  /** As `#resolveReceipt`, for a receipt already read and checked. */
  #resolve(r: ReceiptFields, field: Field): Msg | undefined {
    const msg = this.#messages.get(r.seq);
    if (msg === undefined) return undefined;
    if (r.issuer !== this.#run) {
      throw new FerryError(ErrorCodes.ReceiptHandleExpired, `${fieldName(field)} is from before the queue's shard restarted; its lease ended with the restart`, { field: fieldName(field) });
    }
    if (r.receiveCount > msg.receiveCount) {
      throw new FerryError(ErrorCodes.ReceiptHandleIsInvalid, `${fieldName(field)} names a delivery that never happened`, { field: fieldName(field) });
    }
    if (r.receiveCount < msg.receiveCount) {
      throw new FerryError(ErrorCodes.ReceiptHandleExpired, `${fieldName(field)} is from delivery ${r.receiveCount}; the message was delivered again since`, { field: fieldName(field) });
    }
    return msg;
  }

  #leased(receipt: string): Msg {
    const field = 'receipt';
    const msg = this.#resolveReceipt(receipt, field);
    if (msg === undefined || msg.state !== State.Leased) {
      throw new FerryError(ErrorCodes.ReceiptHandleExpired, `${field}: the message is not leased any more (its lease ended or it was deleted)`, { field });
    }
    return msg;
  }

  /** A receipt of a stream group's delivery, or undefined in queue mode (the queue-mode path decodes it). */
  #streamReceipt(receipt: string, field: Field): { gid: number; seq: number; receiveCount: number } | undefined {
    if (this.#stream === undefined) return undefined;
    const r = this.#decodeReceipt(receipt, field);
    return { gid: r.issuer, seq: r.seq, receiveCount: r.receiveCount };
  }

  /** Deletes by receipt (stream mode: acknowledges for the receipt's group). A message already gone is not an error (at-least-once acks may repeat). */
  #delete(receipt: string, field: Field): { deleted: boolean } {
    return this.#deleteRead(readReceipt(receipt), field);
  }

  /** As `#delete`, for a receipt already read (undefined: it was none). */
  #deleteRead(read: ReceiptFields | undefined, field: Field): { deleted: boolean } {
    const r = this.#checkReceipt(read, field);
    if (this.#stream !== undefined) return this.#stream.ack(r.issuer, r.seq, r.receiveCount, fieldName(field)) ? DELETED : NOT_DELETED;
    const msg = this.#resolve(r, field);
    if (msg === undefined) return NOT_DELETED;
    this.#remove(msg);
    this.#unstore(msg.seq);
    return DELETED;
  }

  /**
   * Each receipt as for delete, in order. The common answer (deleted) is a shared constant entry and
   * an entry's field path is made only for an error: this runs once per acknowledged message.
   */
  #deleteBatch(receipts: readonly string[]): Array<BatchEntryResult<{ deleted: boolean }>> {
    const results = new Array<BatchEntryResult<{ deleted: boolean }>>(receipts.length);
    for (let i = 0; i < receipts.length; i++) {
      try {
        results[i] = this.#delete(receipts[i]!, i) === DELETED ? OK_DELETED : OK_NOT_DELETED;
      } catch (err) {
        results[i] = entryError(err, `receipts.${i}`);
      }
    }
    return results;
  }

  /**
   * deleteReceipts: each receipt as for delete, read straight from the request's bytes (no string
   * per receipt), the outcome counted; only a refused receipt makes an object (its error).
   */
  #deleteReceipts(receipts: Uint8Array): DeleteReceiptsResult {
    let deleted = 0;
    let gone = 0;
    let errors: DeleteReceiptsResult['errors'] | undefined;
    for (let i = 0, at = 0; at + RECEIPT_CHARS <= receipts.byteLength; i++, at += RECEIPT_CHARS) {
      try {
        if (this.#deleteRead(readReceiptBytes(receipts, at), i) === DELETED) deleted++;
        else gone++;
      } catch (err) {
        (errors ??= []).push({ index: i, error: entryError(err, `receipts.${i}`).error });
      }
    }
    return { deleted, gone, errors: errors ?? [] };
  }

  /** Ends the lease now (0) or moves its end. */
  #changeVisibility(receipt: string, ms: number, now: number): number {
    const sr = this.#streamReceipt(receipt, 'receipt');
    if (sr !== undefined) return this.#stream!.release(sr.gid, sr.seq, sr.receiveCount, ms, now, 'receipt');
    const msg = this.#leased(receipt);
    if (ms === 0) {
      this.#leaseEnded(msg, now, true);
      return now;
    }
    msg.until = now + ms;
    this.#deadlines.push({ at: msg.until, seq: msg.seq });
    return now + ms;
  }

  #nack(args: OpArgs<'nack'>, now: number): NackResult {
    const sr = this.#streamReceipt(args.receipt, 'receipt');
    if (sr !== undefined) {
      // A stream keeps its messages: rejecting one (or using up its receives) ends it for this group only.
      return this.#stream!.nack(sr.gid, sr.seq, sr.receiveCount, args.requeue !== false, args.delayMs ?? 0, now, 'receipt');
    }
    const msg = this.#leased(args.receipt);
    if (args.requeue === false) {
      this.#unlease(msg);
      return this.#deadLetterOrDrop(msg, 'rejected', now) ? { deadLettered: true } : { deleted: true };
    }
    const ms = args.delayMs ?? 0;
    if (ms === 0) {
      return this.#leaseEnded(msg, now, true) ? { visibleAt: now } : { deadLettered: true };
    }
    this.#unlease(msg);
    if (this.#receivesExhausted(msg)) {
      this.#deadLetterOrDrop(msg, 'maxReceives', now);
      return { deadLettered: true };
    }
    this.#delay(msg, now + ms);
    return { visibleAt: now + ms };
  }

  /**
   * A lease is over (expired, nack, changeVisibility 0, the subscriber's socket closed): the
   * message is visible again, unless it used up maxReceives (dead-lettered) or expired meanwhile.
   * Returns true when it is visible again.
   */
  #leaseEnded(msg: Msg, now: number, front: boolean): boolean {
    this.#unlease(msg);
    if (this.#receivesExhausted(msg)) {
      this.#deadLetterOrDrop(msg, 'maxReceives', now);
      return false;
    }
    if (this.#isExpired(msg, now)) {
      this.#deadLetterOrDrop(msg, 'expired', now);
      return false;
    }
    this.#makeVisible(msg, front);
    return true;
  }

  #subscribe(ref: Ref, session: number, sub: number, args: OpArgs<'subscribe'>): void {
    if (this.#stream !== undefined) {
      if (args.group === undefined) throw new FerryError(ErrorCodes.MissingField, `group is required: queue ${this.name} is a stream`, { field: 'group' });
      if (!this.#stream.has(args.group)) throw new FerryError(ErrorCodes.GroupDoesNotExist, `consumer group ${args.group} does not exist`, { field: 'group' });
    } else if (args.group !== undefined) {
      this.#streamGroups();
    }
    const key = subKey(session, sub);
    if (this.#subs.has(key)) throw new FerryError(ErrorCodes.InvalidField, `subscription ${sub} exists`, { field: 'sub' });
    this.#subs.set(key, {
      session, sub, group: args.group, credit: Math.min(Limits.maxCredit, args.credit),
      visibilityMs: args.visibilityMs ?? this.#attrs.visibilityMs, leases: new HeldLeases(),
    });
    this.#out.subscribed(ref, sub);
  }

  #subscription(session: number, sub: number): Subscription {
    const s = this.#subs.get(subKey(session, sub));
    if (s === undefined) throw new FerryError(ErrorCodes.UnknownSubscription, `no subscription ${sub} on this connection`, { field: 'sub' });
    return s;
  }

  #createAgain(ref: Ref, wanted: Partial<QueueAttributes>): void {
    const have = this.#attrs;
    for (const [k, v] of Object.entries(wanted) as Array<[keyof QueueAttributes, unknown]>) {
      if (!sameAttributeValue(have[k], v)) {
        throw new FerryError(ErrorCodes.QueueAlreadyExists, `queue ${this.name} exists with ${k}=${JSON.stringify(have[k])}, not ${JSON.stringify(v)}`, { field: `attributes.${k}` });
      }
    }
    this.#out.reply(ref, { queue: this.name, created: false, attributes: have });
  }

  #setAttributes(patch: Partial<QueueAttributes>, now: number): QueueAttributes {
    const before = this.#attrs;
    const next = mergeAttributes(this.name, before, patch);
    this.#record = { ...this.#record, attributes: next };
    this.#store.putQueue(this.#record);
    if (before.deadLetter === null && next.deadLetter !== null && this.#stream === undefined) {
      // maxReceives now counts: the receive counts taken so far must survive a restart too.
      for (const msg of this.#messages.values()) if (msg.receiveCount > 0) this.#putDelivery(msg);
    }
    if (before.orderingWindowMs > 0 && next.orderingWindowMs === 0) {
      // Window switched off: everything held is released now, in slot order.
      for (const msg of this.#window.drain()) this.#release(msg, now);
    }
    if (before.ordering !== next.ordering) this.#rebuildOrder();
    return next;
  }

  /** Ordering changed: rebuild the delivery order from the live messages, in acceptance order. */
  #rebuildOrder(): void {
    if (this.#backlog.length > 0) {
      // Every message becomes a full one, and the live map is put back in acceptance order.
      while (this.#backlog.length > 0) this.#promote();
      const sorted = new SeqTable<Msg>();
      for (const msg of [...this.#messages.values()].sort((a, b) => a.seq - b.seq)) sorted.set(msg);
      this.#messages = sorted;
    }
    this.#order = newOrder(this.#attrs, this.#backlogged);
    for (const msg of this.#messages.values()) {
      if (msg.state === State.Held) continue;
      this.#order.accepted(msg);
      if (msg.state === State.Visible) this.#order.visible(msg, false);
    }
  }

  #purge(): number {
    const purged = this.#size;
    this.#backlog.clear();
    this.#backlogBodies.clear();
    for (const msg of this.#messages.values()) {
      if (msg.body !== undefined) this.#bodies.release(msg.size);
      msg.state = State.Gone;
    }
    this.#messages.clear();
    this.#order.clear();
    this.#window.clear();
    this.#deadlines.clear();
    this.#leaseEnds.clear();
    this.#ttls.clear();
    this.#ttlLive = 0;
    for (const s of this.#subs.values()) s.leases.clear();
    this.#counts = { visible: 0, leased: 0, delayed: 0, held: 0, bytes: 0 };
    this.#record = { ...this.#record, purgedBelow: this.#nextSeq };
    this.#store.putQueue(this.#record);
    this.#removed = [];
    this.#goneBelow = this.#nextSeq;
    this.#stageSeqMarks();
    this.#store.clearBelow(this.#nextSeq);
    this.#stream?.purged(this.#nextSeq);
    return purged;
  }

  #destroy(now: number): void {
    const gone: WireError = { code: ErrorCodes.QueueDoesNotExist, message: `queue ${this.name} was deleted`, field: 'queue' };
    for (const w of this.#waiters) this.#out.fail(w.ref, gone);
    this.#waiters = [];
    for (const s of this.#subs.values()) this.#out.endSubscription(s.session, s.sub, gone);
    this.#subs.clear();
    const target = this.#attrs.deadLetter;
    if (target !== null) {
      // Messages still here go to the dead-letter queue (reason queueDeleted), in the same synced
      // batch that deletes the queue: the outbox records outlive the queue's own keys.
      while (this.#backlog.length > 0) this.#promote();
      const missing = [...this.#messages.values()].filter((m) => m.body === undefined);
      const read = this.#store.readMessages(missing.map((m) => m.seq));
      missing.forEach((m, i) => this.#readId(m, read[i]));
      const bodies = new Map(missing.map((m, i) => [m.seq, read[i]?.body ?? EMPTY]));
      for (const msg of this.#messages.values()) {
        this.#idString(msg);
        this.#store.putForward(msg.seq, deadLetterRecord(msg, msg.body ?? bodies.get(msg.seq)!, target.queue, 'queueDeleted', this.name, now));
        this.#counters.deadLettered++;
      }
    }
    for (const msg of this.#messages.values()) if (msg.body !== undefined) this.#bodies.release(msg.size);
    this.#messages.clear();
    this.#backlog.clear();
    this.#backlogBodies.clear();
    this.#order.clear();
    this.#window.clear();
    this.#deadlines.clear();
    this.#leaseEnds.clear();
    this.#ttls.clear();
    this.#removed = [];
    this.#store.removeQueue();
    this.#destroyed = true;
  }

  /** The connection of `session` closed: drop its waiters, end its subscriptions, free their leases now. */
  /** Returns whether the connection had anything here (a long poll or a subscription): else nothing changed. */
  closeSession(session: number, now: number): boolean {
    if (this.#waiters.length === 0 && this.#subs.size === 0) return false;
    this.#waiters = this.#waiters.filter((w) => w.session !== session);
    for (const [key, s] of this.#subs) {
      if (s.session !== session) continue;
      this.#subs.delete(key);
      if (s.group !== undefined) this.#stream?.releaseHolder(s.group, s, now);
      for (const seq of s.leases.candidates()) {
        const msg = this.#messages.get(seq);
        if (msg !== undefined && msg.state === State.Leased && msg.holder === s) this.#leaseEnded(msg, now, true);
      }
    }
    return true;
  }

  /**
   * This node stops running the queue (its leadership moved, or its copy is dropped; cluster mode):
   * its long polls are answered (empty: the clients ask the new leader), its last writes are
   * staged in this turn (which the replication log seals as the leadership's last entry), and the
   * bodies it holds leave the shard's body cache (they were counted against the shard's budget).
   */
  stop(now: number): void {
    this.answerWaiters();
    this.endTurn(now);
    this.#backlogBodies.clear();
    for (const msg of this.#messages.values()) {
      if (msg.body === undefined) continue;
      this.#bodies.release(msg.size);
      msg.body = undefined;
    }
  }

  /** Shutdown: every long poll is answered now (empty), so no client waits on a closing broker. */
  answerWaiters(): void {
    for (const w of this.#waiters) this.#out.reply(w.ref, { messages: [] });
    this.#waiters = [];
  }

  /** Ends leases and delays that are due, expires messages, releases the ordering window, ends long polls. */
  tick(now: number): void {
    for (let top = this.#leaseEnds.peek(); top !== undefined && top.at <= now; top = this.#leaseEnds.peek()) {
      this.#leaseEnds.pop();
      for (const seq of top.seqs) {
        const msg = this.#messages.get(seq);
        if (msg !== undefined && this.#leasedUntil(msg, top.at)) this.#leaseEnded(msg, now, false);
      }
    }
    for (let top = this.#deadlines.peek(); top !== undefined && top.at <= now; top = this.#deadlines.peek()) {
      this.#deadlines.pop();
      const msg = this.#messages.get(top.seq);
      if (msg === undefined || msg.until !== top.at) continue;
      if (msg.state === State.Leased) {
        this.#leaseEnded(msg, now, false);
      } else if (msg.state === State.Delayed) {
        if (this.#isExpired(msg, now)) {
          this.#deadLetterOrDrop(msg, 'expired', now);
        } else {
          this.#counts.delayed--;
          this.#makeVisible(msg, false);
        }
      }
    }
    this.#stream?.tick(now);
    this.#expire(now);
    const windowMs = this.#attrs.orderingWindowMs;
    if (windowMs > 0) for (const msg of this.#window.release(now, windowMs)) this.#release(msg, now);
    if (this.#waiters.length > 0) {
      const keep: Array<Waiter<Ref>> = [];
      for (const w of this.#waiters) {
        if (w.deadline <= now) this.#out.reply(w.ref, { messages: this.#takeFor(w, now) });
        else keep.push(w);
      }
      this.#waiters = keep;
    }
  }

  /** Retention (the oldest messages first) and per-message ttl (a heap). */
  #expire(now: number): void {
    const retentionMs = this.#attrs.retentionMs;
    for (let sentAt = this.#oldestSentAt(); sentAt !== undefined && sentAt + retentionMs <= now; sentAt = this.#oldestSentAt()) {
      this.#deadLetterOrDrop(this.#oldestForRemoval()!, 'expired', now);
    }
    for (let top = this.#ttls.peek(); top !== undefined && top.at <= now; top = this.#ttls.peek()) {
      this.#ttls.pop();
      const msg = this.#messages.get(top.seq);
      if (msg !== undefined && msg.expiresAt === top.at) this.#deadLetterOrDrop(msg, 'expired', now);
    }
    // Deleted ttl messages leave stale heap entries; rebuild when they dominate, so memory follows live messages.
    if (this.#ttls.size > 2 * this.#ttlLive + 1024) {
      this.#ttls = new DeadlineHeap();
      for (const msg of this.#messages.values()) if (msg.expiresAt !== Infinity) this.#ttls.push({ at: msg.expiresAt, seq: msg.seq });
    }
  }

  /** The ordering window released `msg`: it joins the delivery order now. */
  #release(msg: Msg, now: number): void {
    if (msg.state !== State.Held) return; // removed while held
    this.#counts.held--;
    this.#order.accepted(msg);
    if (msg.until > now) this.#delay(msg, msg.until);
    else this.#makeVisible(msg, false);
  }

  /**
   * End of a host turn: hand visible messages to waiting receivers and push subscriptions (batched,
   * once per turn rather than once per send), and stage the sequence high-water mark once.
   */
  endTurn(now: number): void {
    if (this.#stream !== undefined && this.#waiters.length > 0) {
      const keep: Array<Waiter<Ref>> = [];
      for (const w of this.#waiters) {
        const messages = this.#takeFor(w, now);
        if (messages.length > 0) this.#out.reply(w.ref, { messages });
        else keep.push(w);
      }
      this.#waiters = keep;
    }
    while (this.#waiters.length > 0 && this.#counts.visible > 0) {
      const w = this.#waiters[0]!;
      const messages = this.#take(w.max, w.visibilityMs, now, undefined);
      if (messages.length === 0) break; // visible but not deliverable (strict groups wait behind their heads)
      this.#waiters.shift();
      this.#out.reply(w.ref, { messages });
    }
    if (this.#subs.size > 0 && this.#stream !== undefined) this.#pushToGroups(now);
    else if (this.#subs.size > 0 && this.#counts.visible > 0) this.#pushToSubscribers(now);
    if (this.#removed.length > 0) this.#settleRemovals();
    if (this.#nextSeqDirty) {
      this.#nextSeqDirty = false;
      this.#stageSeqMarks();
    }
  }

  /** Stages the sequence record (high-water, delivered and gone marks), noting the batch a new delivered mark is in. */
  #stageSeqMarks(): void {
    this.#store.putNextSeq(this.#nextSeq, this.#deliveredBelow, this.#goneBelow);
    // Only a new value moves the batch to watch: restaged every turn, the mark would always be
    // in a batch not yet synced, and never be known durable.
    if (this.#deliveredBelow > this.#markStaged) {
      this.#markStaged = this.#deliveredBelow;
      this.#markBatch = this.#store.openBatch();
    }
  }

  /**
   * Stages what makes this turn's removed messages gone on disk. A consumer acking in order
   * leaves every message below some sequence gone: then the gone mark moves up to it (staged with
   * the high-water mark, which every removal writes anyway) and those messages need no delete of
   * their own; the store clears their keys by range (shard-store.ts, putNextSeq). A removed message
   * above a message still here (acks out of order, a delayed or leased message below it, a strict
   * group waiting) gets its own deletes, as before.
   *
   * The mark passes only sequences of no message held: not in the live map, and below the
   * backlog's first (the backlog holds every other message, in sequence order; held, delayed and
   * leased messages are in the live map). Each sequence is passed once in the queue's life.
   * Stream mode never comes here (its messages leave by retention only, deleted one by one).
   */
  #settleRemovals(): void {
    let gone = this.#goneBelow;
    const limit = Math.min(this.#backlog.peekSeq() ?? this.#nextSeq, this.#nextSeq);
    const messages = this.#messages;
    while (gone < limit && !messages.has(gone)) gone++;
    this.#goneBelow = gone;
    const removed = this.#removed;
    this.#removed = [];
    for (let i = 0; i < removed.length; i++) {
      const seq = removed[i]!;
      if (seq < gone) continue;
      this.#store.deleteMessage(seq);
      if (this.#deliveryRecords) this.#store.deleteDelivery(seq);
    }
  }

  /** Whatever a long poll can get now (its group may have been deleted meanwhile: then nothing). */
  #takeFor(w: Waiter<Ref>, now: number): DeliveredMessage[] {
    if (w.group === undefined) return this.#take(w.max, w.visibilityMs, now, undefined);
    try {
      return this.#takeStream(w.group, w.max, w.visibilityMs, now);
    } catch {
      return [];
    }
  }

  /** Stream mode: each subscription gets what its group has, shared among the group's subscribers. */
  #pushToGroups(now: number): void {
    const subs = [...this.#subs.values()];
    const start = this.#subRotation++ % subs.length;
    for (let i = 0; i < subs.length; i++) {
      const s = subs[(start + i) % subs.length]!;
      if (s.credit === 0 || s.group === undefined) continue;
      const available = this.#stream!.available(s.group);
      if (available === 0) continue;
      const hungry = subs.filter((o) => o.group === s.group && o.credit > 0).length;
      let messages: DeliveredMessage[];
      try {
        messages = this.#takeStream(s.group, Math.min(s.credit, Math.max(1, Math.ceil(available / hungry))), s.visibilityMs, now, s);
      } catch (err) {
        // The group was deleted: its subscriptions end.
        this.#subs.delete(subKey(s.session, s.sub));
        this.#out.endSubscription(s.session, s.sub, toWireError(err));
        continue;
      }
      if (messages.length === 0) continue;
      s.credit -= messages.length;
      // A stream group's pushes keep their order (offsets): they all wait, so none overtakes another.
      this.#out.push(s.session, s.sub, new DeliveredList(messages), true);
    }
  }

  #pushToSubscribers(now: number): void {
    // Rounds until credit or visible messages run out: a push stops short of its share when it
    // reaches Limits.maxDeliveryBytes, and what is left must not wait for the next event.
    for (let pushed = true; pushed && this.#counts.visible > 0;) {
      pushed = false;
      const subs = [...this.#subs.values()];
      const start = this.#subRotation++ % subs.length;
      let hungry = subs.filter((s) => s.credit > 0).length;
      for (let i = 0; i < subs.length && this.#counts.visible > 0; i++) {
        const s = subs[(start + i) % subs.length]!;
        if (s.credit === 0) continue;
        // Share what is visible among the subscribers that can take some, so none starves.
        const share = Math.max(1, Math.ceil(this.#counts.visible / hungry--));
        const messages = this.#lease(Math.min(s.credit, share), s.visibilityMs, now, s);
        if (messages.count === 0) break;
        s.credit -= messages.count;
        pushed = true;
        this.#out.push(s.session, s.sub, messages, this.#pushWaits(messages.msgs));
      }
    }
  }

  /** The next time `tick` has something to do, if any. */
  nextDeadline(): number | undefined {
    // Called for every actor a turn touched (with 10,000 queues, most of a turn's requests each
    // touch another): plain comparisons, no closure per call.
    let next = earlier(this.#deadlines.peek()?.at, this.#leaseEnds.peek()?.at);
    next = earlier(next, this.#ttls.peek()?.at);
    if (this.#stream !== undefined) next = earlier(next, this.#stream.nextDeadline());
    const oldest = this.#oldestSentAt();
    if (oldest !== undefined) next = earlier(next, oldest + this.#attrs.retentionMs);
    if (this.#attrs.orderingWindowMs > 0) next = earlier(next, this.#window.nextDue(this.#attrs.orderingWindowMs));
    for (const w of this.#waiters) next = earlier(next, w.deadline);
    return next;
  }

  stats(now: number): QueueStats {
    const oldest = this.#oldestSentAt();
    return {
      visible: this.#counts.visible,
      leased: this.#counts.leased + (this.#stream?.leased ?? 0),
      delayed: this.#counts.delayed,
      oldestAgeMs: oldest === undefined ? 0 : Math.max(0, now - oldest),
      bytes: this.#counts.bytes,
      messages: this.#size,
      held: this.#counts.held,
      ...this.#counters,
    };
  }

  /**
   * Leases up to `max` deliverable messages to a receiver (holder undefined) or a subscription;
   * fewer once their bodies reach Limits.maxDeliveryBytes (one answer or push stays a sane size).
   */
  #take(max: number, visibilityMs: number, now: number, holder: Subscription | undefined): DeliveredMessage[] {
    const leased = this.#lease(max, visibilityMs, now, holder);
    return leased.count === 0 ? [] : leased.messages();
  }

  /** Whether `msg` is still leased by the delivery whose lease ends at `at` (else that entry is stale for it). */
  #leasedUntil(msg: Msg, at: number): boolean {
    return msg.until === at && msg.state === State.Leased;
  }

  /** Whether a lease-end entry still ends the lease of any of its messages. */
  #leaseLive(group: LeaseGroup): boolean {
    for (const seq of group.seqs) {
      const msg = this.#messages.get(seq);
      if (msg !== undefined && this.#leasedUntil(msg, group.at)) return true;
    }
    return false;
  }

  /**
   * Whether a push of `msgs` must wait for its turn's write to be durable (ActorOutbox.push): only
   * if a crash could otherwise leave one of its messages without its delivery counted. A message
   * needs no wait when
   *   - it is still in the store's open batch: it and what this delivery wrote about it (the
   *     delivered mark, a receive count) reach the disk together or not at all. A message sent to
   *     a waiting subscriber is such a message.
   *   - the queue keeps no receive count per message (no dead-letter queue) and the message is
   *     below a delivered mark already on disk: after any crash it counts one delivery. The mark
   *     is written ahead of the deliveries (DELIVERED_MARK_AHEAD), so a backlog streams out
   *     without an fsync on each push's way.
   * A queue with a dead-letter queue stores each delivery's receive count in the turn's batch, so
   * its other pushes wait for that batch (maxReceives must hold across a crash).
   */
  #pushWaits(msgs: readonly Msg[]): boolean {
    const marked = this.#attrs.deadLetter === null ? this.#durableMark() : 0;
    for (const msg of msgs) if (msg.seq >= marked && !this.#store.unwritten(msg.seq)) return true;
    return false;
  }

  /** The highest delivered mark known to be on disk. */
  #durableMark(): number {
    if (this.#markDurable < this.#markStaged && this.#store.isDurable(this.#markBatch)) this.#markDurable = this.#markStaged;
    return this.#markDurable;
  }

  /** As `#take`, the messages as the actor's own records (for a push: written without objects, deliveries.ts). */
  #lease(max: number, visibilityMs: number, now: number, holder: Subscription | undefined): LeasedDeliveries {
    const taken: Msg[] = [];
    let bytes = 0;
    while (taken.length < max && bytes < Limits.maxDeliveryBytes) {
      const msg = this.#order.next();
      if (msg === undefined) break;
      if (msg.state !== State.Visible) continue;
      // Never deliver what has expired, nor what used up its receives (maxReceives lowered meanwhile).
      if (this.#isExpired(msg, now)) {
        this.#deadLetterOrDrop(msg, 'expired', now);
        continue;
      }
      if (this.#receivesExhausted(msg)) {
        this.#deadLetterOrDrop(msg, 'maxReceives', now);
        continue;
      }
      bytes += msg.size;
      this.#counts.visible--;
      this.#counts.leased++;
      msg.state = State.Leased;
      msg.receiveCount++;
      if (msg.receiveCount === 1 || msg.firstReceivedAt === UNKNOWN_TIME) msg.firstReceivedAt = now;
      msg.until = now + visibilityMs;
      msg.holder = holder;
      if (this.#attrs.deadLetter !== null) this.#putDelivery(msg);
      // Past half the distance the mark was written ahead, it moves on (staged at the end of the
      // turn), so it is on disk before the deliveries reach it. Never beyond the sequences in use.
      if (msg.seq + DELIVERED_MARK_AHEAD / 2 >= this.#deliveredBelow) {
        const mark = Math.min(msg.seq + 1 + DELIVERED_MARK_AHEAD, this.#nextSeq);
        if (mark > this.#deliveredBelow) {
          this.#deliveredBelow = mark;
          this.#nextSeqDirty = true;
        }
      }
      taken.push(msg);
    }
    if (taken.length > 0) {
      const seqs = new Array<number>(taken.length);
      for (let i = 0; i < taken.length; i++) seqs[i] = taken[i]!.seq;
      this.#leaseEnds.push({ at: now + visibilityMs, seqs });
      holder?.leases.added(seqs, (seq) => this.#messages.get(seq)?.holder === holder);
      // An entry whose messages were all acked would stay for the whole visibility timeout (and
      // outlive every scavenge: at one push per turn, ~150k promoted entries per 30 s). Past twice
      // the leased messages (plus slack), the stale ones go now: amortised O(1) per push.
      if (this.#leaseEnds.size > 2 * this.#counts.leased + LEASE_ENDS_SLACK) this.#leaseEnds.retain((g) => this.#leaseLive(g));
    }
    // Bodies past the shard's body cache are read back in one call, in delivery order.
    const bodies = new Array<Uint8Array>(taken.length);
    let missing: number[] | undefined;
    for (let i = 0; i < taken.length; i++) {
      const body = taken[i]!.body;
      if (body !== undefined) bodies[i] = body;
      else (missing ??= []).push(i);
    }
    if (missing !== undefined) {
      const read = this.#store.readMessages(missing.map((i) => taken[i]!.seq));
      for (let j = 0; j < missing.length; j++) {
        const i = missing[j]!;
        const s = read[j];
        this.#readId(taken[i]!, s);
        bodies[i] = s?.body ?? EMPTY;
      }
    }
    return new LeasedDeliveries(taken, bodies, this.#qidHi, this.#qidLo, this.#run, this.#ids);
  }

  #makeVisible(msg: Msg, front: boolean): void {
    msg.state = State.Visible;
    msg.until = 0;
    this.#counts.visible++;
    this.#order.visible(msg, front);
  }

  #delay(msg: Msg, until: number): void {
    msg.state = State.Delayed;
    msg.until = until;
    this.#counts.delayed++;
    this.#deadlines.push({ at: until, seq: msg.seq });
  }

  /** Ends a lease's bookkeeping. The message is detached (state Gone) until the caller gives it its next state. */
  #unlease(msg: Msg): void {
    this.#counts.leased--;
    msg.holder?.leases.ended();
    msg.holder = undefined;
    msg.state = State.Gone;
  }

  /**
   * A message's stored records go, and the high-water mark is staged with it: once the highest
   * stored message is gone, only the mark keeps its sequence from being used again. Queue mode
   * stages the deletes at the end of the turn, or the gone mark instead (#settleRemovals).
   */
  #unstore(seq: number): void {
    this.#nextSeqDirty = true;
    if (this.#stream === undefined) {
      this.#removed.push(seq);
      return;
    }
    this.#store.deleteMessage(seq);
    if (this.#deliveryRecords) this.#store.deleteDelivery(seq);
  }

  /** Stores a message's receive count (queues with a dead-letter queue: maxReceives survives a restart). */
  #putDelivery(msg: Msg): void {
    this.#deliveryRecords = true;
    this.#store.putDelivery(msg.seq, { receiveCount: msg.receiveCount, firstReceivedAt: msg.firstReceivedAt });
  }

  #remove(msg: Msg): void {
    if (msg.state === State.Visible) this.#counts.visible--;
    else if (msg.state === State.Leased) this.#unlease(msg);
    else if (msg.state === State.Delayed) this.#counts.delayed--;
    else if (msg.state === State.Held) this.#counts.held--;
    msg.state = State.Gone;
    if (msg.body !== undefined) this.#bodies.release(msg.size);
    this.#counts.bytes -= msg.size;
    if (msg.expiresAt !== Infinity) this.#ttlLive--;
    this.#messages.delete(msg.seq);
    this.#order.removed(msg);
  }
}

function newOrder(a: QueueAttributes, backlog: Backlogged): DeliveryOrder {
  if (a.mode === 'stream') return new NoOrder();
  return a.ordering === 'strict' ? new StrictOrder() : new RelaxedOrder(backlog);
}

function subKey(session: number, sub: number): string {
  return `${session}:${sub}`;
}

function sendExtra(entry: SendEntry, dedupKey: string | undefined): MessageExtra | undefined {
  // Most sends have none: no object to build and count.
  if (dedupKey === undefined && entry.ttlMs === undefined && entry.groupId === undefined && entry.timestamp === undefined && entry.producer === undefined) return undefined;
  const extra: MessageExtra = {};
  if (entry.ttlMs !== undefined) extra.ttlMs = entry.ttlMs;
  if (entry.groupId !== undefined) extra.groupId = entry.groupId;
  if (dedupKey !== undefined) extra.dedupKey = dedupKey;
  if (entry.timestamp !== undefined) extra.timestamp = entry.timestamp;
  if (entry.producer !== undefined) extra.producer = entry.producer;
  return Object.keys(extra).length > 0 ? extra : undefined;
}

/** The record of a message; its id is not stored (derived from queue id and seq). */
function stored(sentAt: number, visibleAt: number, body: Uint8Array, attributes: Msg['attributes'], extra: MessageExtra | undefined): StoredMessage {
  const s: StoredMessage = { sentAt, visibleAt, body };
  if (attributes !== undefined) s.attributes = attributes;
  if (extra !== undefined) Object.assign(s, extra);
  return s;
}

/** A batch entry's error, its field prefixed with the entry's path (`receipts.3`). */
function entryError(err: unknown, path: string): { error: WireError } {
  const error = toWireError(err);
  if (error.field === undefined) error.field = path;
  else if (!error.field.startsWith(path)) error.field = `${path}.${error.field}`;
  return { error };
}

/** A request field: a name, or the index of a deleteBatch receipt (named only when an error needs it). */
type Field = string | number;

function fieldName(f: Field): string {
  return typeof f === 'number' ? `receipts.${f}` : f;
}

/** Results every ack shares (never changed: the shard encodes them as they are). */
const DELETED: { deleted: boolean } = Object.freeze({ deleted: true });
const NOT_DELETED: { deleted: boolean } = Object.freeze({ deleted: false });
const OK_DELETED: BatchEntryResult<{ deleted: boolean }> = Object.freeze({ ok: DELETED });
const OK_NOT_DELETED: BatchEntryResult<{ deleted: boolean }> = Object.freeze({ ok: NOT_DELETED });
