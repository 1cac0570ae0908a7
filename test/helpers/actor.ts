/**
 * A QueueActor in memory for unit tests: an in-memory PartitionStore (with outbox records,
 * markers and dedup records), an outbox that records answers, and helpers that run one request as
 * a full host turn. `restart()` rebuilds a fresh actor from what the store holds (as recovery
 * would), and `carryForwards()` plays the main thread's part of moving outbox records to another
 * actor (forwarder.ts), so dead-lettering and redrive can be tested without threads.
 */
import { QueueActor, type ActorRequest, type InsertItem } from '../../src/actors/queue-actor.js';
import { BodyCache, type ActorOutbox, type PartitionStore } from '../../src/actors/ports.js';
import type { Deliveries } from '../../src/actors/deliveries.js';
import { mergeAttributes } from '../../src/protocol/attributes.js';
import type { WireError } from '../../src/protocol/errors.js';
import type { DeliveredMessage, NackResult, QueueAttributes, SendResult } from '../../src/protocol/ops.js';
import { forwardIdString, type ForwardId } from '../../src/storage/keys.js';
import { recoveredMessage } from '../../src/storage/shard-store.js';
import type { DedupRecord, DeliveryRecord, ForwardRecord, GroupDeliveryRecord, QueueRecord, RecoveredMessage, StoredMessage, StreamGroupRecord } from '../../src/storage/records.js';

export type Answer = { result: unknown } | { error: WireError };

export class MemoryStore implements PartitionStore {
  record: QueueRecord | undefined;
  messages = new Map<number, StoredMessage>();
  deliveries = new Map<number, DeliveryRecord>();
  /** Queue-mode outbox records, by sequence. */
  forwards = new Map<number, ForwardRecord>();
  /** Outbox records of stream consumer groups' dead letters, by forwardIdString. */
  groupForwards = new Map<string, { f: ForwardId; record: ForwardRecord }>();
  /** Stream groups' receive counts ('C' keys), by `${gid}:${seq}`. */
  groupDeliveries = new Map<string, GroupDeliveryRecord>();
  markers = new Set<string>();
  dedup = new Map<string, DedupRecord>();
  groups = new Map<string, StreamGroupRecord>();
  nextSeq = 0;
  deliveredBelow = 0;
  goneBelow = 0;
  /** Messages deleted one by one (deleteMessage), as opposed to covered by the gone mark. */
  messageDeletes = 0;
  removed = false;
  clearedBelow = 0;
  putQueue(r: QueueRecord): void { this.record = r; }
  /** Messages below the gone mark are dropped at once (the shard store's recovery skips them, its range clears drop them). */
  putNextSeq(n: number, deliveredBelow: number, goneBelow: number): void {
    this.nextSeq = n;
    this.deliveredBelow = deliveredBelow;
    this.goneBelow = goneBelow;
    for (const k of this.messages.keys()) if (k < goneBelow) this.messages.delete(k);
    for (const k of this.deliveries.keys()) if (k < goneBelow) this.deliveries.delete(k);
  }
  putMessage(seq: number, m: StoredMessage): void { this.messages.set(seq, m); }
  putDelivery(seq: number, d: DeliveryRecord): void { this.deliveries.set(seq, d); }
  deleteMessage(seq: number): void { this.messageDeletes++; this.messages.delete(seq); }
  deleteDelivery(seq: number): void { this.deliveries.delete(seq); }
  clearBelow(seq: number): void { this.clearedBelow = seq; for (const k of this.messages.keys()) if (k < seq) this.messages.delete(k); }
  removeQueue(): void { this.removed = true; this.messages.clear(); this.markers.clear(); this.dedup.clear(); this.groups.clear(); this.groupDeliveries.clear(); }
  putForward(seq: number, record: ForwardRecord, gid?: number): void {
    if (gid === undefined) this.forwards.set(seq, record);
    else this.groupForwards.set(forwardIdString({ qid: this.record!.id, seq, gid }), { f: { qid: this.record!.id, seq, gid }, record });
  }
  putMarker(origin: ForwardId): void { this.markers.add(forwardIdString(origin)); }
  deleteMarker(origin: ForwardId): void { this.markers.delete(forwardIdString(origin)); }
  putGroupDelivery(gid: number, seq: number, r: GroupDeliveryRecord): void { this.groupDeliveries.set(`${gid}:${seq}`, r); }
  deleteGroupDelivery(gid: number, seq: number): void { this.groupDeliveries.delete(`${gid}:${seq}`); }
  clearGroupDeliveries(gid: number): void { for (const k of [...this.groupDeliveries.keys()]) if (k.startsWith(`${gid}:`)) this.groupDeliveries.delete(k); }
  putDedup(id: string, r: DedupRecord): void { this.dedup.set(id, r); }
  deleteDedup(id: string): void { this.dedup.delete(id); }
  putGroup(name: string, r: StreamGroupRecord): void { this.groups.set(name, r); }
  deleteGroup(name: string): void { this.groups.delete(name); }
  readMessages(seqs: readonly number[]): Array<StoredMessage | undefined> { return seqs.map((s) => this.messages.get(s)); }
  /** Every write here is at once in the store: nothing is ever in an open batch. */
  unwritten(): boolean { return false; }
  openBatch(): number { return 1; }
  /** Durable at once, like every write here. */
  isDurable(): boolean { return true; }
}

export class Outbox implements ActorOutbox<number> {
  answers = new Map<number, Answer>();
  pushes: Array<{ session: number; sub: number; messages: DeliveredMessage[] }> = [];
  ends: Array<{ session: number; sub: number; error: WireError }> = [];
  reply(r: number, result: unknown): void { this.answers.set(r, { result }); }
  fail(r: number, error: WireError): void { this.answers.set(r, { error }); }
  subscribed(r: number, sub: number): void { this.answers.set(r, { result: { sub } }); }
  push(session: number, sub: number, messages: Deliveries, _waitForWrite: boolean): void { this.pushes.push({ session, sub, messages: messages.messages() }); }
  endSubscription(session: number, sub: number, error: WireError): void { this.ends.push({ session, sub, error }); }
}

/** A request without its ref (distributes over the union, so each op keeps its own args). */
export type Request = (ActorRequest<number> extends infer R ? (R extends unknown ? Omit<R, 'ref' | 'session'> : never) : never) & { session?: number; sub?: number };

let nextQid = 1;

export interface Harness<S extends MemoryStore = MemoryStore> {
  store: S;
  out: Outbox;
  /** The shard's body cache the actor counts its bodies against. */
  bodies: BodyCache;
  actor: QueueActor<number>;
  name: string;
  qid: string;
  call(req: Request, now: number): Answer;
  ok<T>(a: Answer): T;
  send(body: string, now: number, extra?: Record<string, unknown>): SendResult;
  receive(now: number, args?: Record<string, unknown>): DeliveredMessage[];
  del(receipt: string, now: number): Answer;
  nack(receipt: string, now: number, extra?: Record<string, unknown>): NackResult;
  /** tick + endTurn, as the host does when the actor's deadline comes. */
  tick(now: number): void;
  /** A new actor over the same store, as after a crash: what recovery would rebuild. */
  restart(now: number): void;
}

/** A fresh actor; the attributes go through the same merge and checks as a createQueue. */
export function actorHarness<S extends MemoryStore = MemoryStore>(attrs: Partial<QueueAttributes> = {}, opts: { cacheBytes?: number; name?: string; store?: S } = {}): Harness<S> {
  const name = opts.name ?? 'q';
  const qid = (nextQid++).toString(16).padStart(16, '0');
  const store = opts.store ?? (new MemoryStore() as S);
  const out = new Outbox();
  const bodies = new BodyCache(opts.cacheBytes ?? 1 << 30);
  const record: QueueRecord = { id: qid, name, attributes: mergeAttributes(name, undefined, attrs), createdAt: 0, purgedBelow: 0 };
  store.putQueue(record);
  let r = 0;
  const h: Harness<S> = {
    store, out, name, qid, bodies,
    actor: new QueueActor<number>(record, 0, { store, outbox: out, bodies }),
    call(req, now) {
      const ref = ++r;
      h.actor.handle({ session: 1, ...req, ref } as ActorRequest<number>, now);
      h.actor.endTurn(now);
      return out.answers.get(ref)!;
    },
    ok<T>(a: Answer): T {
      if (a === undefined) throw new Error('no answer');
      if ('error' in a) throw new Error(`unexpected error ${a.error.code}: ${a.error.message}`);
      return a.result as T;
    },
    send: (body, now, extra = {}) => h.ok<SendResult>(h.call({ op: 'send', args: { queue: name, body: Buffer.from(body), ...extra } }, now)),
    receive: (now, args = {}) => h.ok<{ messages: DeliveredMessage[] }>(h.call({ op: 'receive', args: { queue: name, ...args } }, now)).messages,
    del: (receipt, now) => h.call({ op: 'delete', args: { queue: name, receipt } }, now),
    nack: (receipt, now, extra = {}) => h.ok<NackResult>(h.call({ op: 'nack', args: { queue: name, receipt, ...extra } }, now)),
    tick(now) {
      h.actor.tick(now);
      h.actor.endTurn(now);
    },
    restart(now) {
      const rec = store.record!;
      // As ShardStore.recover hands rows over (the actor keeps the body if its cache has room).
      const recovered: RecoveredMessage[] = [...store.messages.entries()].sort((a, b) => a[0] - b[0]).map(([seq, m]) => recoveredMessage(seq, m, store.deliveries.get(seq)));
      h.actor = new QueueActor<number>(rec, store.nextSeq, { store, outbox: out, bodies: new BodyCache(opts.cacheBytes ?? 1 << 30) }, { deliveredBelow: store.deliveredBelow, goneBelow: store.goneBelow });
      h.actor.restoreIndexes(
        [...store.markers], [...store.dedup.entries()].map(([id, d]) => ({ id, ...d })), [...store.groups.entries()].map(([name, g]) => ({ name, ...g })),
        [...store.groupDeliveries].map(([k, d]) => {
          const [gid, seq] = k.split(':').map(Number);
          return { gid: gid!, seq: seq!, ...d };
        }),
      );
      for (const m of recovered) h.actor.restore(m, now);
      h.actor.endTurn(now);
    },
  };
  return h;
}

/**
 * Plays the forwarder: every outbox record of `from` is inserted into the harness its target
 * names (with origin, so repeats are ignored), then dropped from `from`'s outbox and forgotten by
 * the target. Returns how many records moved.
 */
export function carryForwards(from: Harness, targets: readonly Harness[], now: number): number {
  const outbox = [
    ...[...from.store.forwards].map(([seq, record]) => ({ f: { qid: from.qid, seq }, record, drop: () => from.store.forwards.delete(seq) })),
    ...[...from.store.groupForwards].map(([key, { f, record }]) => ({ f, record, drop: () => from.store.groupForwards.delete(key) })),
  ];
  let moved = 0;
  for (const { f, record, drop } of outbox) {
    const target = targets.find((t) => t.name === record.target);
    if (target === undefined) continue;
    const item: InsertItem = { origin: f, message: record.message };
    target.ok(target.call({ op: 'insert', args: { items: [item] } }, now));
    drop();
    target.actor.forget(f);
    moved++;
  }
  return moved;
}

export function text(m: DeliveredMessage): string {
  return Buffer.from(m.body).toString();
}
