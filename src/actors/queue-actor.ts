/**
 * QueueActor: the state machine of one queue partition. No sockets, no threads, no timers, no
 * awaits: the host feeds it requests and the current time, and it answers through an ActorOutbox
 * and writes through a PartitionStore (both in ports.ts). The host commits the store once per turn
 * and only then releases the outbox, so everything the actor says is already durable.
 *
 * Message life cycle (queue style, SQS-like):
 *
 *   send ──► DELAYED ──(delay over)──► VISIBLE ──(receive / push)──► LEASED ──(delete)──► gone
 *                ▲                        ▲  ▲                         │
 *                └──── nack(delay > 0) ───┼──┼─────────────────────────┤
 *                                         │  └─ lease expired, nack(0), changeVisibility(0),
 *                                         │     the push subscription's socket closed
 *
 * Every delivery bumps the receive count, which is persisted with the lease and is part of the
 * receipt: a receipt from an earlier delivery is refused once the message was delivered again.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCodes, FerryError, toWireError, type WireError } from '../protocol/errors.js';
import { Limits } from '../protocol/limits.js';
import type {
  BatchEntryResult, DeliveredMessage, MessageAttributes, OpArgs, QueueAttributes, QueueStats, SendEntry, SendResult,
} from '../protocol/ops.js';
import type { QueueRecord, RecoveredMessage } from '../storage/records.js';
import { DeadlineHeap } from './min-heap.js';
import { Deque } from './deque.js';
import { decodeReceipt, encodeReceipt } from './receipt.js';
import type { ActorOutbox, BodyCache, PartitionStore } from './ports.js';

const enum State {
  Visible = 0,
  Leased = 1,
  Delayed = 2,
  Gone = 3,
}

interface Msg {
  seq: number;
  id: string;
  sentAt: number;
  size: number;
  /** Undefined when the shard's body cache was full: read from the store on delivery. */
  body: Uint8Array | undefined;
  attributes: MessageAttributes | undefined;
  receiveCount: number;
  firstReceivedAt: number;
  state: State;
  /** Lease end (Leased) or due time (Delayed). */
  until: number;
  /** The push subscription holding the lease, if a push delivered it. */
  holder: Subscription | undefined;
}

interface Waiter<Ref> {
  ref: Ref;
  session: number;
  max: number;
  visibilityMs: number;
  deadline: number;
}

interface Subscription {
  session: number;
  sub: number;
  credit: number;
  visibilityMs: number;
  /** Sequence numbers this subscription holds leases on; released when its socket closes. */
  leased: Set<number>;
}

/** A request as the host hands it over; `args` were validated for shape on the main thread. */
export type ActorRequest<Ref> =
  | { op: 'send'; ref: Ref; args: OpArgs<'send'> }
  | { op: 'sendBatch'; ref: Ref; args: OpArgs<'sendBatch'> }
  | { op: 'receive'; ref: Ref; session: number; args: OpArgs<'receive'> }
  | { op: 'delete'; ref: Ref; args: OpArgs<'delete'> }
  | { op: 'deleteBatch'; ref: Ref; args: OpArgs<'deleteBatch'> }
  | { op: 'changeVisibility'; ref: Ref; args: OpArgs<'changeVisibility'> }
  | { op: 'nack'; ref: Ref; args: OpArgs<'nack'> }
  | { op: 'subscribe'; ref: Ref; session: number; sub: number; args: OpArgs<'subscribe'> }
  | { op: 'credit'; ref: Ref; session: number; args: OpArgs<'credit'> }
  | { op: 'unsubscribe'; ref: Ref; session: number; args: OpArgs<'unsubscribe'> }
  | { op: 'getQueueAttributes'; ref: Ref }
  | { op: 'setQueueAttributes'; ref: Ref; args: OpArgs<'setQueueAttributes'> }
  | { op: 'purgeQueue'; ref: Ref }
  | { op: 'createQueue'; ref: Ref; args: OpArgs<'createQueue'> }
  | { op: 'deleteQueue'; ref: Ref };

export interface QueueActorDeps<Ref> {
  store: PartitionStore;
  outbox: ActorOutbox<Ref>;
  bodies: BodyCache;
}

export class QueueActor<Ref> {
  readonly #store: PartitionStore;
  readonly #out: ActorOutbox<Ref>;
  readonly #bodies: BodyCache;
  #record: QueueRecord;
  #nextSeq: number;
  #nextSeqDirty = false;
  /** Live messages by sequence; insertion order is sequence order, so the first is the oldest. */
  readonly #messages = new Map<number, Msg>();
  readonly #visible = new Deque<Msg>();
  /** Lease ends and delay ends. Stale entries are skipped when they surface. */
  readonly #deadlines = new DeadlineHeap();
  #waiters: Array<Waiter<Ref>> = [];
  readonly #subs = new Map<string, Subscription>();
  #subRotation = 0;
  #counts = { visible: 0, leased: 0, delayed: 0, bytes: 0 };
  #destroyed = false;

  constructor(record: QueueRecord, nextSeq: number, deps: QueueActorDeps<Ref>) {
    this.#record = record;
    this.#nextSeq = nextSeq;
    this.#store = deps.store;
    this.#out = deps.outbox;
    this.#bodies = deps.bodies;
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

  /** Loads one message found by recovery; call in sequence order before any request. */
  restore(m: RecoveredMessage, now: number): void {
    if (m.body !== undefined) this.#bodies.bytes += m.size;
    const msg: Msg = {
      seq: m.seq, id: m.id, sentAt: m.sentAt, size: m.size, body: m.body, attributes: m.attributes,
      receiveCount: m.delivery?.receiveCount ?? 0, firstReceivedAt: m.delivery?.firstReceivedAt ?? 0,
      state: State.Visible, until: 0, holder: undefined,
    };
    this.#messages.set(m.seq, msg);
    this.#counts.bytes += m.size;
    // Leases do not survive a restart: a leased-but-undeleted message is visible again at once.
    if (m.visibleAt > now) this.#delay(msg, m.visibleAt);
    else this.#makeVisible(msg, false);
    if (m.seq >= this.#nextSeq) this.#nextSeq = m.seq + 1;
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
        return out.reply(req.ref, { results: req.args.entries.map((e, i) => this.#entry(`entries.${i}`, () => this.#send(e, now))) });
      case 'receive':
        return this.#receive(req.ref, req.session, req.args, now);
      case 'delete':
        return out.reply(req.ref, this.#delete(req.args.receipt, 'receipt'));
      case 'deleteBatch':
        return out.reply(req.ref, { results: req.args.receipts.map((r, i) => this.#entry(`receipts.${i}`, () => this.#delete(r, `receipts.${i}`))) });
      case 'changeVisibility':
        return out.reply(req.ref, { visibleAt: this.#release(req.args.receipt, req.args.visibilityMs, now, false) });
      case 'nack':
        return out.reply(req.ref, { visibleAt: this.#release(req.args.receipt, req.args.delayMs ?? 0, now, true) });
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
        return out.reply(req.ref, { queue: this.name, attributes: this.#record.attributes, stats: this.stats(now), createdAt: this.#record.createdAt });
      case 'setQueueAttributes':
        this.#record = { ...this.#record, attributes: { ...this.#record.attributes, ...req.args.attributes } };
        this.#store.putQueue(this.#record);
        return out.reply(req.ref, { attributes: this.#record.attributes });
      case 'createQueue':
        return this.#createAgain(req.ref, req.args.attributes ?? {});
      case 'purgeQueue':
        return out.reply(req.ref, { purged: this.#purge() });
      case 'deleteQueue':
        this.#destroy();
        return out.reply(req.ref, { deleted: true });
    }
  }

  /** Runs one entry of a batch, turning its error into that entry's result with the entry's path. */
  #entry<T>(path: string, run: () => T): BatchEntryResult<T> {
    try {
      return { ok: run() };
    } catch (err) {
      const error = toWireError(err);
      if (error.field === undefined) error.field = path;
      else if (!error.field.startsWith(path)) error.field = `${path}.${error.field}`;
      return { error };
    }
  }

  #send(entry: SendEntry, now: number): SendResult {
    const size = entry.body.byteLength;
    if (size === 0) throw new FerryError(ErrorCodes.EmptyBody, 'body must not be empty', { field: 'body' });
    const max = this.#record.attributes.maxMessageBytes;
    if (size > max) throw new FerryError(ErrorCodes.BodyTooLarge, `body is ${size} bytes; queue ${this.name} accepts at most ${max}`, { field: 'body' });
    const delayMs = entry.delayMs ?? this.#record.attributes.delayMs;
    const seq = this.#nextSeq++;
    this.#nextSeqDirty = true;
    const id = randomUUID();
    const visibleAt = now + delayMs;
    this.#store.putMessage(seq, entry.attributes === undefined
      ? { id, sentAt: now, visibleAt, body: entry.body }
      : { id, sentAt: now, visibleAt, body: entry.body, attributes: entry.attributes });
    const msg: Msg = {
      seq, id, sentAt: now, size, body: this.#bodies.admit(size) ? entry.body : undefined, attributes: entry.attributes,
      receiveCount: 0, firstReceivedAt: 0, state: State.Visible, until: 0, holder: undefined,
    };
    this.#messages.set(seq, msg);
    this.#counts.bytes += size;
    if (delayMs > 0) this.#delay(msg, visibleAt);
    else this.#makeVisible(msg, false);
    return { messageId: id, seq };
  }

  #receive(ref: Ref, session: number, args: OpArgs<'receive'>, now: number): void {
    const max = args.max ?? 1;
    const visibilityMs = args.visibilityMs ?? this.#record.attributes.visibilityMs;
    const waitMs = args.waitMs ?? this.#record.attributes.receiveWaitMs;
    if (this.#counts.visible > 0 || waitMs === 0) {
      this.#out.reply(ref, { messages: this.#take(max, visibilityMs, now, undefined) });
    } else {
      this.#waiters.push({ ref, session, max, visibilityMs, deadline: now + waitMs });
    }
  }

  /** Checks a receipt against the current delivery of its message. */
  #resolveReceipt(receipt: string, field: string): Msg | undefined {
    const r = decodeReceipt(receipt);
    if (r === undefined || r.qid !== this.#record.id || r.seq >= this.#nextSeq || r.receiveCount === 0) {
      throw new FerryError(ErrorCodes.ReceiptHandleIsInvalid, `${field} is not a receipt of queue ${this.name}`, { field });
    }
    const msg = this.#messages.get(r.seq);
    if (msg === undefined) return undefined;
    if (r.receiveCount > msg.receiveCount) {
      throw new FerryError(ErrorCodes.ReceiptHandleIsInvalid, `${field} names a delivery that never happened`, { field });
    }
    if (r.receiveCount < msg.receiveCount) {
      throw new FerryError(ErrorCodes.ReceiptHandleExpired, `${field} is from delivery ${r.receiveCount}; the message was delivered again since`, { field });
    }
    return msg;
  }

  /** Deletes by receipt. A message already gone is not an error (at-least-once acks may repeat). */
  #delete(receipt: string, field: string): { deleted: boolean } {
    const msg = this.#resolveReceipt(receipt, field);
    if (msg === undefined) return { deleted: false };
    this.#remove(msg);
    this.#store.deleteMessage(msg.seq);
    return { deleted: true };
  }

  /** changeVisibility and nack: end the current lease now (ms 0), or move its end (changeVisibility), or turn it into a delay (nack). */
  #release(receipt: string, ms: number, now: number, isNack: boolean): number {
    const field = 'receipt';
    const msg = this.#resolveReceipt(receipt, field);
    if (msg === undefined || msg.state !== State.Leased) {
      throw new FerryError(ErrorCodes.ReceiptHandleExpired, `${field}: the message is not leased any more (its lease ended or it was deleted)`, { field });
    }
    if (ms === 0) {
      this.#unlease(msg);
      this.#makeVisible(msg, true);
      return now;
    }
    if (isNack) {
      this.#unlease(msg);
      this.#delay(msg, now + ms);
    } else {
      msg.until = now + ms;
      this.#deadlines.push({ at: msg.until, seq: msg.seq });
    }
    return now + ms;
  }

  #subscribe(ref: Ref, session: number, sub: number, args: OpArgs<'subscribe'>): void {
    const key = subKey(session, sub);
    if (this.#subs.has(key)) throw new FerryError(ErrorCodes.InvalidField, `subscription ${sub} exists`, { field: 'sub' });
    this.#subs.set(key, {
      session, sub, credit: Math.min(Limits.maxCredit, args.credit),
      visibilityMs: args.visibilityMs ?? this.#record.attributes.visibilityMs, leased: new Set(),
    });
    this.#out.reply(ref, { sub });
  }

  #subscription(session: number, sub: number): Subscription {
    const s = this.#subs.get(subKey(session, sub));
    if (s === undefined) throw new FerryError(ErrorCodes.UnknownSubscription, `no subscription ${sub} on this connection`, { field: 'sub' });
    return s;
  }

  #createAgain(ref: Ref, wanted: Partial<QueueAttributes>): void {
    const have = this.#record.attributes;
    for (const [k, v] of Object.entries(wanted) as Array<[keyof QueueAttributes, number]>) {
      if (have[k] !== v) {
        throw new FerryError(ErrorCodes.QueueAlreadyExists, `queue ${this.name} exists with ${k}=${have[k]}, not ${v}`, { field: `attributes.${k}` });
      }
    }
    this.#out.reply(ref, { queue: this.name, created: false, attributes: have });
  }

  #purge(): number {
    const purged = this.#messages.size;
    for (const msg of this.#messages.values()) {
      if (msg.body !== undefined) this.#bodies.release(msg.size);
      msg.state = State.Gone;
    }
    this.#messages.clear();
    this.#visible.clear();
    this.#deadlines.clear();
    for (const s of this.#subs.values()) s.leased.clear();
    this.#counts = { visible: 0, leased: 0, delayed: 0, bytes: 0 };
    this.#record = { ...this.#record, purgedBelow: this.#nextSeq };
    this.#store.putQueue(this.#record);
    this.#store.putNextSeq(this.#nextSeq);
    this.#store.clearBelow(this.#nextSeq);
    return purged;
  }

  #destroy(): void {
    const gone: WireError = { code: ErrorCodes.QueueDoesNotExist, message: `queue ${this.name} was deleted`, field: 'queue' };
    for (const w of this.#waiters) this.#out.fail(w.ref, gone);
    this.#waiters = [];
    for (const s of this.#subs.values()) this.#out.endSubscription(s.session, s.sub, gone);
    this.#subs.clear();
    for (const msg of this.#messages.values()) if (msg.body !== undefined) this.#bodies.release(msg.size);
    this.#messages.clear();
    this.#visible.clear();
    this.#deadlines.clear();
    this.#store.removeQueue();
    this.#destroyed = true;
  }

  /** The connection of `session` closed: drop its waiters, end its subscriptions, free their leases now. */
  closeSession(session: number): void {
    this.#waiters = this.#waiters.filter((w) => w.session !== session);
    for (const [key, s] of this.#subs) {
      if (s.session !== session) continue;
      this.#subs.delete(key);
      for (const seq of s.leased) {
        const msg = this.#messages.get(seq);
        if (msg !== undefined && msg.state === State.Leased && msg.holder === s) {
          this.#unlease(msg);
          this.#makeVisible(msg, true);
        }
      }
    }
  }

  /** Shutdown: every long poll is answered now (empty), so no client waits on a closing broker. */
  answerWaiters(): void {
    for (const w of this.#waiters) this.#out.reply(w.ref, { messages: [] });
    this.#waiters = [];
  }

  /** Ends leases and delays that are due, and long polls that waited long enough. */
  tick(now: number): void {
    for (let top = this.#deadlines.peek(); top !== undefined && top.at <= now; top = this.#deadlines.peek()) {
      this.#deadlines.pop();
      const msg = this.#messages.get(top.seq);
      if (msg === undefined || msg.until !== top.at) continue;
      if (msg.state === State.Leased) {
        this.#unlease(msg);
        this.#makeVisible(msg, false);
      } else if (msg.state === State.Delayed) {
        this.#counts.delayed--;
        this.#makeVisible(msg, false);
      }
    }
    if (this.#waiters.length > 0 && this.#counts.visible === 0) {
      const keep: Array<Waiter<Ref>> = [];
      for (const w of this.#waiters) {
        if (w.deadline <= now) this.#out.reply(w.ref, { messages: [] });
        else keep.push(w);
      }
      this.#waiters = keep;
    }
  }

  /**
   * End of a host turn: hand visible messages to waiting receivers and push subscriptions (batched,
   * once per turn rather than once per send), and stage the sequence high-water mark once.
   */
  endTurn(now: number): void {
    while (this.#waiters.length > 0 && this.#counts.visible > 0) {
      const w = this.#waiters.shift()!;
      this.#out.reply(w.ref, { messages: this.#take(w.max, w.visibilityMs, now, undefined) });
    }
    if (this.#subs.size > 0 && this.#counts.visible > 0) this.#pushToSubscribers(now);
    if (this.#nextSeqDirty) {
      this.#nextSeqDirty = false;
      this.#store.putNextSeq(this.#nextSeq);
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
        const messages = this.#take(Math.min(s.credit, share), s.visibilityMs, now, s);
        if (messages.length === 0) break;
        s.credit -= messages.length;
        pushed = true;
        this.#out.push(s.session, s.sub, messages);
      }
    }
  }

  /** The next time `tick` has something to do, if any. */
  nextDeadline(): number | undefined {
    let next = this.#deadlines.peek()?.at;
    for (const w of this.#waiters) if (next === undefined || w.deadline < next) next = w.deadline;
    return next;
  }

  stats(now: number): QueueStats {
    const oldest = this.#messages.values().next().value;
    return {
      visible: this.#counts.visible,
      leased: this.#counts.leased,
      delayed: this.#counts.delayed,
      oldestAgeMs: oldest === undefined ? 0 : Math.max(0, now - oldest.sentAt),
      bytes: this.#counts.bytes,
    };
  }

  /**
   * Leases up to `max` visible messages to a receiver (holder undefined) or a subscription; fewer
   * once their bodies reach Limits.maxDeliveryBytes.
   */
  #take(max: number, visibilityMs: number, now: number, holder: Subscription | undefined): DeliveredMessage[] {
    const taken: Msg[] = [];
    let bytes = 0;
    while (taken.length < max && bytes < Limits.maxDeliveryBytes) {
      const msg = this.#visible.shift();
      if (msg === undefined) break;
      if (msg.state !== State.Visible) continue; // deleted while visible: a stale slot
      bytes += msg.size;
      this.#counts.visible--;
      this.#counts.leased++;
      msg.state = State.Leased;
      msg.receiveCount++;
      if (msg.receiveCount === 1) msg.firstReceivedAt = now;
      msg.until = now + visibilityMs;
      msg.holder = holder;
      holder?.leased.add(msg.seq);
      this.#deadlines.push({ at: msg.until, seq: msg.seq });
      this.#store.putDelivery(msg.seq, { receiveCount: msg.receiveCount, firstReceivedAt: msg.firstReceivedAt });
      taken.push(msg);
    }
    const missing = taken.filter((m) => m.body === undefined);
    const loaded = new Map<number, Uint8Array>();
    if (missing.length > 0) {
      const stored = this.#store.readMessages(missing.map((m) => m.seq));
      missing.forEach((m, i) => {
        const s = stored[i];
        if (s !== undefined) loaded.set(m.seq, s.body);
      });
    }
    return taken.map((m) => {
      const d: DeliveredMessage = {
        messageId: m.id,
        receipt: encodeReceipt({ qid: this.#record.id, seq: m.seq, receiveCount: m.receiveCount }),
        body: m.body ?? loaded.get(m.seq) ?? new Uint8Array(0),
        seq: m.seq,
        receiveCount: m.receiveCount,
        sentAt: m.sentAt,
        firstReceivedAt: m.firstReceivedAt,
      };
      if (m.attributes !== undefined) d.attributes = m.attributes;
      return d;
    });
  }

  #makeVisible(msg: Msg, first: boolean): void {
    msg.state = State.Visible;
    msg.until = 0;
    this.#counts.visible++;
    if (first) this.#visible.unshift(msg);
    else this.#visible.push(msg);
  }

  #delay(msg: Msg, until: number): void {
    msg.state = State.Delayed;
    msg.until = until;
    this.#counts.delayed++;
    this.#deadlines.push({ at: until, seq: msg.seq });
  }

  #unlease(msg: Msg): void {
    this.#counts.leased--;
    msg.holder?.leased.delete(msg.seq);
    msg.holder = undefined;
  }

  #remove(msg: Msg): void {
    if (msg.state === State.Visible) this.#counts.visible--;
    else if (msg.state === State.Leased) this.#unlease(msg);
    else if (msg.state === State.Delayed) this.#counts.delayed--;
    msg.state = State.Gone;
    if (msg.body !== undefined) this.#bodies.release(msg.size);
    this.#counts.bytes -= msg.size;
    this.#messages.delete(msg.seq);
  }
}

function subKey(session: number, sub: number): string {
  return `${session}:${sub}`;
}
