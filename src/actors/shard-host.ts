/**
 * ShardHost: the many QueueActors of one shard over one ShardStore. It runs turns:
 *
 *   accept(messages…)  → actors handle requests, writes are staged, answers are held
 *   endTurn()          → actors dispatch to waiters/subscribers, ONE batch writes every staged
 *                        write, then the answers of every turn whose write is durable come out
 *
 * This is group commit: a turn's sends, deletes and leases share a single fdatasync, and nothing
 * a turn produced (replies, replication entries, outbox sends, announcements) leaves before the
 * write it reports is durable. Pushes of messages still in the open batch are the exception:
 * they leave with their turn (see ActorOutbox.push and docs/protocol.md, "Delivery guarantees"),
 * and so does a subscribe's reply, which must come before any push. By default each turn's write is synced on this thread,
 * so endTurn returns the turn's own answers. With `deferSync` (the worker) the write is not
 * synced here: the turn's answers are held (held-turns.ts) until the worker's syncer thread
 * reports the write durable, and `released()` hands them out, in turn order, while later turns
 * already run. The host owns no thread and no timer; the worker entry (shard-worker.ts) drives it
 * from postMessage, the syncer's reports and one timer at `nextDeadline()`.
 */
import { ErrorCodes, toWireError, type WireError } from '../protocol/errors.js';
import { mergeAttributes } from '../protocol/attributes.js';
import { DEFAULT_QUEUE_ATTRIBUTES, type OpArgs, type SendEntry } from '../protocol/ops.js';
import type { Deliveries } from './deliveries.js';
import { forwardIdString } from '../storage/keys.js';
import type { ShardStore } from '../storage/shard-store.js';
import type { PendingForward, QueueRecord, RecoveredMessage, RecoveredMessageSink, RecoveredQueue } from '../storage/records.js';
import { Deque } from './deque.js';
import { keyLess, type SlotKey } from './ordering-window.js';
import { SlotDeadlines } from './slot-deadlines.js';
import { QueueActor, type ActorRequest, type QueueMarks } from './queue-actor.js';
import { BodyCache, type ActorOutbox, type PartitionStore } from './ports.js';
import type { FromShard, QueueInfo, QueueRequest, ToShard } from './shard-messages.js';
import { unpackSends } from './packing.js';
import { CborWriter } from '../protocol/cbor-writer.js';
import { ReplicaLog } from './replica-log.js';
import { HeldTurns } from './held-turns.js';
import { TraceEvent, TraceGroup, traceHold, traceKeyOfEntries, tracing } from '../common/trace.js';

type Actor = QueueActor<number>;

/**
 * An actor as the host keeps it: its slot (what the deadline heap stores), when it is registered
 * to tick, and whether it is in this turn's touched list. Kept beside the actor so a touched
 * actor's end of turn costs no lookups (a WeakMap and a Map per touched actor before).
 */
interface Hosted {
  readonly actor: Actor;
  readonly slot: number;
  /** The time registered in #deadlines (Infinity: none). */
  registered: number;
  touched: boolean;
  dropped: boolean;
}

const cbor = new CborWriter();
const EMPTY = new Uint8Array(0);
const NO_REFS = new Float64Array(0);
const NO_ENDS = new Uint32Array(0);

type Replies = Extract<FromShard, { t: 'replies' }>;

/** The encoded replies of a turn, collected until the turn ends (see HeldAnswers). */
interface ReplyBlock {
  rs: number[];
  ends: number[];
  counts: number[];
  /** Its item among the turn's answers, filled in by `take`. */
  item: Replies;
}

/**
 * A turn's answers. Batch replies, received messages and pushes are CBOR-encoded here, once: the
 * main thread splices the bytes into the client's frame (protocol/encoded.ts). A turn's encoded
 * replies travel as one `replies` item (every reply's bytes in one buffer, numbers in columns)
 * placed where the first of them was made: postMessage pays per object and per buffer, and a turn
 * of sends has one reply per request. Only encoded replies move up so; nothing orders them after
 * a push or a plain answer (a subscribe's reply, which must precede its pushes, is an early item
 * like them). A push is a buffer of its own.
 */
class HeldAnswers implements ActorOutbox<number> {
  items: FromShard[] = [];
  /** What leaves with the turn, durable or not: subscribe replies and pushes that need not wait (see ActorOutbox.push). */
  early: FromShard[] = [];
  readonly #replies = new CborWriter();
  #block: ReplyBlock | undefined;

  reply(r: number, result: unknown): void {
    const count = encodedCount(result);
    if (count === undefined) {
      this.items.push({ t: 'reply', r, result });
      return;
    }
    let block = this.#block;
    if (block === undefined) {
      const item: Replies = { t: 'replies', bytes: EMPTY, rs: NO_REFS, ends: NO_ENDS, counts: NO_ENDS };
      block = this.#block = { rs: [], ends: [], counts: [], item };
      this.items.push(item);
    }
    block.rs.push(r);
    block.ends.push(this.#replies.append(result));
    block.counts.push(count);
  }
  fail(r: number, error: WireError): void {
    this.items.push({ t: 'fail', r, error });
  }
  subscribed(r: number, sub: number): void {
    this.early.push({ t: 'reply', r, result: { sub } });
  }
  push(session: number, sub: number, messages: Deliveries, waitForWrite: boolean): void {
    cbor.clear();
    messages.writeTo(cbor);
    (waitForWrite ? this.items : this.early).push({ t: 'push', session, sub, encoded: cbor.take(), count: messages.count });
  }
  endSubscription(session: number, sub: number, error: WireError): void {
    // Held like a reply, so it never overtakes a push of the same subscription that waits.
    this.items.push({ t: 'subEnd', session, sub, error });
  }
  /** The turn's early items (see `early`); call after `take`. */
  takeEarly(): FromShard[] {
    const early = this.early;
    this.early = [];
    return early;
  }
  take(): FromShard[] {
    const items = this.items;
    const block = this.#block;
    if (block !== undefined) {
      block.item.bytes = this.#replies.take();
      block.item.rs = Float64Array.from(block.rs);
      block.item.ends = Uint32Array.from(block.ends);
      block.item.counts = Uint32Array.from(block.counts);
    }
    this.items = [];
    this.#block = undefined;
    return items;
  }
}

/** Below this a buffer is cloned: moving a small one costs about what copying it does (measured). */
const TRANSFER_MIN_BYTES = 4096;

/**
 * The buffers of a turn's answers that postMessage may move to the main thread instead of copying:
 * a push's or a reply block's bytes are taken out of the writer into a buffer of their own that
 * nothing here touches again. Moving a push of 500 messages (~180 kB) cost the shard ~60 µs
 * instead of ~150 µs for the copy, and the main thread no copy at all.
 */
export function movableBuffers(items: readonly FromShard[]): ArrayBuffer[] {
  let out: ArrayBuffer[] | undefined;
  for (const m of items) {
    const bytes = m.t === 'push' ? m.encoded : m.t === 'replies' ? m.bytes : undefined;
    if (bytes === undefined || bytes.byteLength < TRANSFER_MIN_BYTES) continue;
    // Only a buffer that is the view's alone (CborWriter.take gives such views, at offset 0, of a
    // buffer at most twice their length): never a shared or pooled one.
    if (bytes.byteOffset !== 0 || bytes.buffer.byteLength > 2 * bytes.byteLength || !(bytes.buffer instanceof ArrayBuffer)) continue;
    (out ??= []).push(bytes.buffer);
  }
  return out ?? NO_BUFFERS;
}
const NO_BUFFERS: ArrayBuffer[] = [];

/** What metrics count of a result worth encoding here (received messages, ok batch entries); undefined for any other result. */
function encodedCount(result: unknown): number | undefined {
  if (result === null || typeof result !== 'object') return undefined;
  const r = result as { messages?: unknown; results?: unknown };
  if (Array.isArray(r.messages)) return r.messages.length;
  if (!Array.isArray(r.results)) return undefined;
  let ok = 0;
  for (const e of r.results as Array<{ ok?: unknown }>) if (e.ok !== undefined) ok++;
  return ok;
}

/** Outbox records a shard has sent on and not yet seen acknowledged; past it, the rest wait. */
const MAX_FORWARDS_IN_FLIGHT = 1000;

function partitionStore(store: ShardStore, qid: string, forwarded: (f: PendingForward) => void): PartitionStore {
  return {
    putForward: (seq, record, gid) => {
      const f: PendingForward = gid === undefined ? { qid, seq } : { qid, seq, gid };
      store.putForward(f, record);
      forwarded(f);
    },
    putMarker: (origin) => store.putMarker(qid, origin),
    deleteMarker: (origin) => store.deleteMarker(qid, origin),
    putGroupDelivery: (gid, seq, record) => store.putGroupDelivery(qid, gid, seq, record),
    deleteGroupDelivery: (gid, seq) => store.deleteGroupDelivery(qid, gid, seq),
    clearGroupDeliveries: (gid) => store.clearGroupDeliveries(qid, gid),
    putDedup: (id, record) => store.putDedup(qid, id, record),
    deleteDedup: (id) => store.deleteDedup(qid, id),
    putGroup: (name, record) => store.putGroup(qid, name, record),
    deleteGroup: (name) => store.deleteGroup(qid, name),
    putQueue: (record) => store.putQueue(record),
    putNextSeq: (n, delivered, gone) => store.putNextSeq(qid, n, delivered, gone),
    putMessage: (seq, m) => store.putMessage(qid, seq, m),
    putDelivery: (seq, d) => store.putDelivery(qid, seq, d),
    deleteMessage: (seq) => store.deleteMessage(qid, seq),
    deleteDelivery: (seq) => store.deleteDelivery(qid, seq),
    clearBelow: (seq) => store.clearBelow(qid, seq),
    removeQueue: () => store.removeQueue(qid),
    readMessages: (seqs) => store.readMessages(qid, seqs),
    unwritten: (seq) => store.unwritten(qid, seq),
    openBatch: () => store.openBatch(),
    isDurable: (n) => n <= store.durable,
  };
}

export class ShardHost {
  readonly #store: ShardStore;
  readonly #answers = new HeldAnswers();
  readonly #bodies: BodyCache;
  readonly #actors = new Map<string, Hosted>();
  /** Actors by slot, for the deadline heap (which stores numbers). */
  readonly #slots = new Map<number, Hosted>();
  #nextSlot = 0;
  /** When actors next need a tick (an actor's entry is live while it equals its `registered`). */
  readonly #deadlines = new SlotDeadlines();
  /** The actors this turn ran, in order, each once. */
  #touched: Hosted[] = [];
  /** Cluster mode only: the replication log (actors run only for queues this node leads). */
  readonly #replicas: ReplicaLog | undefined;
  /** Outbox records to send on after the next commit (see dead-letter.ts for the protocol). */
  readonly #forwardQueue = new Deque<PendingForward>();
  readonly #forwardsInFlight = new Set<string>();
  /**
   * Cluster mode: deleted queues this shard led at their deletion, whose outbox records (their
   * queueDeleted dead letters) it still carries: no other node leads them any more. By queue id,
   * how many records are not yet acknowledged; each goes once the last one is.
   */
  readonly #retired = new Map<string, number>();
  /** Outbox records deleted in this turn: announce after the commit, so the target may forget its marker. */
  #forwardsDone: PendingForward[] = [];
  readonly #deferSync: boolean;
  /** Answers of turns whose write is not yet durable (only with deferSync). */
  readonly #held = new HeldTurns<FromShard>();

  /** With `deferSync`, turns write without a sync and the caller reports durability (see top). */
  constructor(store: ShardStore, bodyCacheBytes: number, replicated = false, options: { deferSync?: boolean } = {}) {
    this.#store = store;
    this.#deferSync = options.deferSync === true;
    this.#bodies = new BodyCache(bodyCacheBytes);
    this.#replicas = replicated ? new ReplicaLog(store) : undefined;
  }

  /**
   * Rebuilds every queue of the shard from disk. Returns what the main thread routes by. In cluster
   * mode no actor starts here: the cluster layer sends `lead` for the queues this node leads.
   */
  async recover(now: number): Promise<QueueInfo[]> {
    const queues = await this.#store.recover((q) => {
      withDefaults(q);
      return this.#replicas === undefined ? this.#restore(q, now) : undefined;
    });
    if (this.#replicas !== undefined) {
      // A copy with a replication mark but no queue record applied its queue's deletion and was
      // stopped before it discarded the rest (a live copy gets its record with its first entry).
      const live = new Set(queues.map((q) => q.record.id));
      for (const qid of await this.#store.replicaQids()) {
        if (live.has(qid)) continue;
        this.#replicas.discard(qid);
        this.#store.discardQueue(qid);
      }
      this.#store.commit();
    }
    // Moves that were on their way when the shard stopped are sent again (targets ignore repeats).
    // In cluster mode only the leader of a queue carries its moves: `lead` queues them.
    if (this.#replicas === undefined) for (const f of await this.#store.recoverForwards()) this.#forwardQueue.push(f);
    return queues.map((q) => ({ name: q.record.name, id: q.record.id, attributes: q.record.attributes }));
  }

  /**
   * Starts the actor of a queue read back from this store with its indexes; its messages follow
   * through the returned sink, one at a time (the store reads them after this call).
   */
  #restore(q: RecoveredQueue, now: number): RecoveredMessageSink {
    const hosted = this.#add(q.record, q.nextSeq, q);
    const actor = hosted.actor;
    actor.restoreIndexes(q.markers, q.dedup, q.groups, q.groupDeliveries);
    this.#touch(hosted);
    if (q.record.attributes.orderingWindowMs <= 0) return { message: (m) => actor.restore(m, now), end: () => {} };
    // A queue with an ordering window is restored in its slot order, so it is read whole first.
    // Its bodies are left on disk (the rows they are views into are gone by then).
    const held: RecoveredMessage[] = [];
    return {
      message: (m) => held.push({ ...m, body: undefined }),
      end: () => {
        for (const m of held.sort(bySlot)) actor.restore(m, now);
      },
    };
  }

  #add(record: QueueRecord, nextSeq: number, marks?: QueueMarks): Hosted {
    const actor = new QueueActor<number>(record, nextSeq, {
      store: partitionStore(this.#store, record.id, (f) => this.#forwardQueue.push(f)), outbox: this.#answers, bodies: this.#bodies,
    }, marks);
    const hosted: Hosted = { actor, slot: this.#nextSlot++, registered: Infinity, touched: false, dropped: false };
    this.#actors.set(record.id, hosted);
    this.#slots.set(hosted.slot, hosted);
    return hosted;
  }

  /** The actor leaves the shard: its deadline entries are stale from now on, and its turn ends without it. */
  #drop(hosted: Hosted): void {
    this.#actors.delete(hosted.actor.id);
    this.#slots.delete(hosted.slot);
    hosted.dropped = true;
  }

  /** The actor ran in this turn: its endTurn and deadline come at the end of it. */
  #touch(hosted: Hosted): void {
    if (hosted.touched) return;
    hosted.touched = true;
    this.#touched.push(hosted);
  }

  /** Applies one message from the main thread. Answers are held until endTurn. */
  accept(m: ToShard, now: number): void {
    switch (m.t) {
      case 'req': {
        const hosted = this.#actors.get(m.qid);
        if (hosted === undefined) {
          this.#answers.fail(m.r, { code: ErrorCodes.QueueDoesNotExist, message: 'queue does not exist', field: 'queue' });
          return;
        }
        // The message's own request object becomes the actor's request (see actorRequest).
        hosted.actor.handle(actorRequest(m), now);
        if (hosted.actor.destroyed) this.#drop(hosted);
        else this.#touch(hosted);
        return;
      }
      case 'sends':
        unpackSends(m, (s) => {
          const hosted = this.#actors.get(s.qid);
          if (hosted === undefined) {
            this.#answers.fail(s.r, { code: ErrorCodes.QueueDoesNotExist, message: 'queue does not exist', field: 'queue' });
            return;
          }
          const actor = hosted.actor;
          if (tracing) traceHold(TraceEvent.A, traceKeyOfEntries(s.entries), TraceGroup.turn);
          if (s.single) actor.handle({ op: 'send', ref: s.r, args: sendArgs(s.entries[0]!, actor.name) }, now);
          else actor.handle({ op: 'sendBatch', ref: s.r, args: { queue: actor.name, entries: s.entries } }, now);
          this.#touch(hosted);
        });
        return;
      case 'create': {
        try {
          const record: QueueRecord = {
            id: m.id, name: m.name, attributes: mergeAttributes(m.name, undefined, m.attributes), createdAt: m.createdAt, purgedBelow: 0,
          };
          if (this.#replicas !== undefined) this.#replicas.lead(record.id, m.epoch ?? 1);
          this.#store.putQueue(record);
          this.#touch(this.#add(record, 0));
          this.#answers.reply(m.r, { queue: record.name, created: true, attributes: record.attributes });
        } catch (err) {
          this.#answers.fail(m.r, toWireError(err));
        }
        return;
      }
      case 'closeSession':
        // Only actors the connection had a long poll or subscription on run a turn for it: with
        // 10,000 queues, touching every actor made each closing producer cost 10,000 actor turns.
        for (const hosted of this.#actors.values()) if (hosted.actor.closeSession(m.session, now)) this.#touch(hosted);
        return;
      case 'forwarded':
        // Cluster mode: a node that no longer leads the source must not write to its copy (the new
        // leader carries the move again; the target's marker makes that a no-op). A deleted queue
        // this node led is led by no one: its moves stay here until the last one is acknowledged.
        if (this.#replicas !== undefined && !this.#replicas.leads(m.f.qid) && !this.#retired.has(m.f.qid)) return;
        // The target committed it: the outbox record goes (the same key may be in flight from an
        // earlier run; deleting twice is harmless).
        this.#store.deleteForward(m.f);
        if (this.#forwardsInFlight.delete(forwardIdString(m.f))) {
          const left = this.#retired.get(m.f.qid);
          if (left !== undefined) this.#retired.set(m.f.qid, left - 1);
        }
        this.#forwardsDone.push(m.f);
        return;
      case 'forget': {
        const hosted = this.#actors.get(m.qid);
        if (hosted !== undefined) {
          hosted.actor.forget(m.origin);
          this.#touch(hosted);
        }
        return;
      }
      case 'stats':
        this.#answers.items.push({ t: 'stats', r: m.r, queues: [...this.#actors.values()].map(({ actor: a }) => ({ name: a.name, ...a.stats(now) })) });
        return;
      case 'lead':
      case 'follow':
      case 'apply':
      case 'install':
      case 'snapshot':
      case 'mark':
      case 'discard':
        return this.#replication(m, now);
      case 'crash':
      case 'close':
        return; // the worker entry handles these
    }
  }

  /** Cluster-mode messages (see replica-log.ts); answers are held until the turn's commit like any other. */
  #replication(m: Extract<ToShard, { t: 'lead' | 'follow' | 'apply' | 'install' | 'snapshot' | 'mark' | 'discard' }>, now: number): void {
    const replicas = this.#replicas;
    if (replicas === undefined) {
      this.#answers.fail(m.r, { code: ErrorCodes.Internal, message: `${m.t} needs cluster mode` });
      return;
    }
    try {
      switch (m.t) {
        case 'lead': {
          if (!this.#actors.has(m.qid) && this.#store.recoverQueue(m.qid, (q) => this.#restore(withDefaults(q), now)) === undefined) {
            this.#answers.fail(m.r, { code: ErrorCodes.QueueDoesNotExist, message: `no replica of queue ${m.qid} on this node`, field: 'queue' });
            return;
          }
          this.#answers.reply(m.r, { mark: replicas.lead(m.qid, m.epoch) });
          // The leader carries the queue's moves, including those a previous leader started.
          for (const f of this.#store.forwardsOf(m.qid)) this.#forwardQueue.push(f);
          return;
        }
        case 'follow': {
          this.#stopActor(m.qid, now);
          replicas.follow(m.qid);
          this.#dropForwards(m.qid);
          this.#answers.reply(m.r, { mark: replicas.markOf(m.qid) });
          return;
        }
        case 'apply':
          this.#answers.reply(m.r, replicas.apply(m.entry));
          return;
        case 'install':
          this.#answers.reply(m.r, { mark: replicas.install(m.qid, m.rows, m.mark) });
          return;
        case 'snapshot':
          this.#answers.reply(m.r, replicas.snapshot(m.qid));
          return;
        case 'mark':
          this.#answers.reply(m.r, { mark: replicas.markOf(m.qid) });
          return;
        case 'discard': {
          if (m.moved === true) {
            replicas.dropCopy(m.qid);
            this.#answers.reply(m.r, { discarded: true });
            return;
          }
          this.#stopActor(m.qid, now);
          // Led here when deleted: its outbox records (kept by discardQueue) leave from here still.
          if (replicas.leads(m.qid)) this.#retire(m.qid);
          replicas.discard(m.qid);
          this.#store.discardQueue(m.qid);
          // `carrying`: outbox records of it still move from here (a `drained` forwardDone follows).
          this.#answers.reply(m.r, { discarded: true, carrying: this.#retired.has(m.qid) });
          return;
        }
      }
    } catch (err) {
      this.#answers.fail(m.r, toWireError(err));
    }
  }

  /** This node stops running a queue's actor (it follows, or the copy goes): long polls are answered first. */
  #stopActor(qid: string, now: number): void {
    const hosted = this.#actors.get(qid);
    if (hosted === undefined) return;
    hosted.actor.stop(now);
    this.#drop(hosted);
  }

  /** Bytes the shard's body cache counts now (bodies held in memory plus their overhead). */
  get cachedBodyBytes(): number {
    return this.#bodies.bytes;
  }

  /** Shutdown: answers every long poll so the last turn carries their replies. */
  answerWaiters(): void {
    for (const hosted of this.#actors.values()) {
      hosted.actor.answerWaiters();
      this.#touch(hosted);
    }
  }

  /** Runs due timers of every actor whose deadline has come. */
  tick(now: number): void {
    const deadlines = this.#deadlines;
    for (let at = deadlines.peekAt(); at !== undefined && at <= now; at = deadlines.peekAt()) {
      const hosted = this.#slots.get(deadlines.peekSlot());
      deadlines.pop();
      if (hosted === undefined || hosted.registered !== at) continue;
      hosted.registered = Infinity;
      hosted.actor.tick(now);
      this.#touch(hosted);
    }
  }

  /**
   * Ends the turn: dispatch, one commit, then the answers that may leave (this turn's once its
   * write is durable, after any earlier turn's). Throws StorageError if the commit fails — the
   * caller must then die, because memory is ahead of disk. With `beforeWrite`, the turn's early
   * items (pushes that need not wait, subscribe replies) are handed to it before the batch is
   * written, so that they travel while RocksDB writes, unless the turn posts answers right after
   * its write anyway; else they come first in the result.
   */
  endTurn(now: number, beforeWrite?: (early: FromShard[]) => void): FromShard[] {
    const touched = this.#touched;
    this.#touched = [];
    for (const h of touched) {
      h.touched = false;
      if (!h.dropped) h.actor.endTurn(now);
    }
    // Early items go before the write unless this turn posts answers after it anyway (held ones
    // that are durable now, e.g. in the turn a sync's report runs, which a consumer's acks and
    // credit often share; or its own when it wrote nothing after the last durable write): one
    // post then carries both.
    if (beforeWrite !== undefined && this.#answers.early.length > 0 && !this.#postsAfterWrite()) beforeWrite(this.#answers.takeEarly());
    let write: number;
    try {
      write = this.#store.commit({ deferSync: this.#deferSync });
    } catch (err) {
      // The turn's writes are lost: its answers must never leave, not even with a later turn.
      this.#answers.take();
      this.#answers.takeEarly();
      throw err;
    }
    this.#sendForwards();
    for (const h of touched) {
      if (h.dropped) continue;
      const at = h.actor.nextDeadline();
      if (at !== undefined && at < h.registered) {
        h.registered = at;
        this.#deadlines.push(at, h.slot);
      }
    }
    const answers = this.#answers.take();
    const entries = this.#replicas?.takeEntries();
    // The log goes first: the main thread must know a batch's entries before it sees the replies
    // that depend on them (it holds those replies until the followers acknowledge the entries).
    if (entries !== undefined && entries.length > 0) answers.unshift({ t: 'log', entries });
    this.#held.hold(write, answers);
    const released = this.#held.release(this.#store.durable);
    const early = this.#answers.takeEarly();
    if (early.length === 0) return released;
    // Early items first: a subscribe reply must reach the main thread before any push of its
    // subscription, and a push that waited may be released by this very turn.
    for (const item of released) early.push(item);
    return early;
  }

  /** The answers of held turns whose write has become durable since (store.markDurable), in turn order. */
  released(): FromShard[] {
    return this.#held.release(this.#store.durable);
  }

  /** Whether the ending turn will post answers after its write (see endTurn). */
  #postsAfterWrite(): boolean {
    const store = this.#store;
    if (this.#held.ready(store.durable)) return true;
    return store.staged === 0 && store.written <= store.durable && this.#answers.items.length > 0;
  }

  /** Whether answers wait for a write to become durable. */
  get holding(): boolean {
    return this.#held.holding;
  }

  /** When the host next needs `tick`, if ever. */
  nextDeadline(): number | undefined {
    // Skip entries whose actor re-registered earlier or was dropped.
    const deadlines = this.#deadlines;
    for (let at = deadlines.peekAt(); at !== undefined; at = deadlines.peekAt()) {
      if (this.#slots.get(deadlines.peekSlot())?.registered === at) return at;
      deadlines.pop();
    }
    return undefined;
  }

  /**
   * After a commit: announces deleted outbox records, and sends on outbox records (both leave
   * with this turn's answers, so only once the turn's write is durable),
   * at most MAX_FORWARDS_IN_FLIGHT unacknowledged at a time so a deleted queue of a million
   * messages does not flood the main thread.
   */
  #sendForwards(): void {
    for (const f of this.#forwardsDone) {
      if (this.#retired.get(f.qid) === 0) {
        this.#retired.delete(f.qid);
        this.#answers.items.push({ t: 'forwardDone', f, drained: true });
      } else this.#answers.items.push({ t: 'forwardDone', f });
    }
    this.#forwardsDone = [];
    const batch: PendingForward[] = [];
    while (this.#forwardQueue.length > 0 && this.#forwardsInFlight.size + batch.length < MAX_FORWARDS_IN_FLIGHT) {
      batch.push(this.#forwardQueue.shift()!);
    }
    if (batch.length === 0) return;
    const records = this.#store.readForwards(batch);
    batch.forEach((f, i) => {
      const record = records[i];
      if (record === undefined) return; // acknowledged before it was sent again
      const key = forwardIdString(f);
      if (this.#forwardsInFlight.has(key)) return;
      this.#forwardsInFlight.add(key);
      this.#answers.items.push({ t: 'forward', f, record });
    });
  }

  /** Cluster mode: this node stopped leading `qid`, so it no longer carries the queue's moves. */
  #dropForwards(qid: string): void {
    const keep: PendingForward[] = [];
    while (this.#forwardQueue.length > 0) {
      const f = this.#forwardQueue.shift()!;
      if (f.qid !== qid) keep.push(f);
    }
    for (const f of keep) this.#forwardQueue.push(f);
    for (const key of [...this.#forwardsInFlight]) if (key.startsWith(`${qid}:`)) this.#forwardsInFlight.delete(key);
  }

  /**
   * Cluster mode: deleted queue `qid`, led here, keeps its outbox records moving from here. Its
   * actor is gone, so no record is added: those queued or in flight now are all there will be.
   */
  #retire(qid: string): void {
    const left = new Set<string>();
    for (const key of this.#forwardsInFlight) if (key.startsWith(`${qid}:`)) left.add(key);
    this.#forwardQueue.forEach((f) => {
      if (f.qid === qid) left.add(forwardIdString(f));
    });
    if (left.size > 0) this.#retired.set(qid, left.size);
  }

  /** True while outbox records wait to be sent (the worker then runs another turn soon). */
  get forwardsWaiting(): boolean {
    return this.#forwardQueue.length > 0 && this.#forwardsInFlight.size < MAX_FORWARDS_IN_FLIGHT;
  }

  get queueCount(): number {
    return this.#actors.size;
  }
}

/*
 * A request's fields are set on the object that arrived, not copied into a new one by an object
 * spread with properties after it (`{ ...m.req, ref: m.r, … }`): in this V8 (Node 20) every object
 * such a spread made got a hidden class of its own, allocated in the old generation, and the
 * shard's scavenges kept what the requests held. Measured at 5,000 msg/s (loadtest/analysis.md,
 * seventh session): the busy shard's bytes surviving each scavenge went from ~0.15 MB to
 * ~0.02-0.03 MB and its promotion from ~0.25 MB/s to ~0.01 MB/s. The objects come from the main
 * thread's message (structured clone, or unpackSends) and nothing else holds them.
 */

/** A `req` message's request, with its reference, session and subscription set on it. */
function actorRequest(m: Extract<ToShard, { t: 'req' }>): ActorRequest<number> {
  const req = m.req as QueueRequest & { ref: number; session: number; sub: number };
  req.ref = m.r;
  req.session = m.session;
  req.sub = m.sub ?? 0;
  return req as ActorRequest<number>;
}

/** A single send's arguments: its entry with the queue's name set on it. */
function sendArgs(entry: SendEntry, queue: string): OpArgs<'send'> {
  const args = entry as OpArgs<'send'>;
  args.queue = queue;
  return args;
}

/** Records written before an attribute existed take its default. */
function withDefaults(q: RecoveredQueue): RecoveredQueue {
  q.record = { ...q.record, attributes: { ...DEFAULT_QUEUE_ATTRIBUTES, ...q.record.attributes } };
  return q;
}

/** Recovery order of a queue with an ordering window: its slot order (timestamp, producer, seq). */
function bySlot(a: RecoveredMessage, b: RecoveredMessage): number {
  const ka: SlotKey = { timestamp: a.extra?.timestamp ?? a.sentAt, producer: a.extra?.producer ?? '', seq: a.seq };
  const kb: SlotKey = { timestamp: b.extra?.timestamp ?? b.sentAt, producer: b.extra?.producer ?? '', seq: b.seq };
  return keyLess(ka, kb) ? -1 : keyLess(kb, ka) ? 1 : 0;
}
