/**
 * Router: the main thread's map of where each queue lives (the node's metadata cache) and of each
 * connection's push subscriptions. It turns a validated request into a message for the shard that
 * owns the queue. Placement is decided here, at create time (the shard with the fewest queues), and
 * persisted by that shard with the queue's record, so after a restart every shard reports its
 * queues again (`shardUp`) and the map is rebuilt from disk.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCodes, isRetryable, type WireError } from '../protocol/errors.js';
import { Limits } from '../protocol/limits.js';
import type { DeliveredMessage, OpArgs, QueueAttributes, SendEntry } from '../protocol/ops.js';
import type { ValidRequest } from '../protocol/validate.js';
import type { QueueInfo, QueueRequest } from '../actors/shard-messages.js';
import type { ForwardId } from '../storage/keys.js';
import type { ForwardRecord } from '../storage/records.js';
import { checkDeadLetter, type QueueCatalog } from './dead-letter-check.js';
import { Forwarder, LocalTargets, type MoveTargets } from './forwarder.js';
import { RedriveTasks } from './redrive.js';
import { keptIn, noSuchQueue, unroutableItems } from './unroutable.js';
import type { Answer, Deliveries, ShardPool, ShardPoolEvents } from './shard-pool.js';
import { EncodedCbor, valueOf } from '../protocol/encoded.js';

export interface RouterOptions {
  /** Broker-wide queue that keeps messages sent to queues that do not exist (reason noSuchQueue). */
  unroutableQueue?: string | undefined;
  /**
   * Cluster mode: where moved messages go (the target's leader), which queues exist (the
   * cluster's, for deadLetter checks and redrive targets), and the prefix of this node's redrive
   * task ids (so a cancel finds the node that runs the task).
   */
  cluster?: {
    moves(pool: ShardPool): MoveTargets<unknown>;
    catalog: QueueCatalog;
    taskPrefix: string;
  } | undefined;
}

/** Where answers, pushes and subscription ends go: the transport's sessions. */
export interface SessionSink {
  push(session: number, sub: number, messages: DeliveredMessage[]): void;
  /** A push whose messages are still CBOR: a sink that can splice them says so (else push gets the objects). */
  pushEncoded?(session: number, sub: number, messages: EncodedCbor<DeliveredMessage[]>): void;
  subEnd(session: number, sub: number, error: WireError): void;
  /** Counts pushed messages (metrics). */
  pushed?(queue: string, count: number): void;
}

interface Placement {
  shard: number;
  id: string;
}

interface SubRoute {
  shard: number;
  qid: string;
  /** Queue name, for per-queue metrics of pushed messages. */
  queue: string;
}

/** A request held back until a create or delete of its queue finishes. */
interface HeldRequest {
  session: number;
  /** Runs the request now. */
  run(): void;
  /** Answers it without running it (its connection closed meanwhile). */
  drop(): void;
}

function fail(code: WireError['code'], message: string, field?: string): Answer {
  const error: WireError = { code, message };
  if (field !== undefined) error.field = field;
  if (isRetryable(code)) error.retryable = true;
  return { error };
}

export class Router implements ShardPoolEvents {
  readonly #queues = new Map<string, Placement>();
  /**
   * Queues placed on each shard (by index), kept with #queues (#placeQueue, #unplaceQueue): choosing
   * a shard for a new queue counted every placement, so creating the n-th queue cost O(n) on the
   * main thread (50 million steps to set up issue 5's 10,000 queues).
   */
  readonly #placedOn: number[] = [];
  /**
   * Names being created or deleted, with the requests that must wait for the outcome: they are
   * routed by the map as it is afterwards (a createQueue pipelined behind a deleteQueue of the same
   * name then creates a new queue instead of reaching the deleted one).
   */
  readonly #changing = new Map<string, HeldRequest[]>();
  /** Shard chosen for each name being created: counted as placed, so a burst of creates spreads. */
  readonly #creatingOn = new Map<string, number>();
  readonly #subs = new Map<number, Map<number, SubRoute>>();
  readonly #nextSub = new Map<number, number>();
  /** Each queue's dead-letter queue, for the cycle check (a cache of what the shards hold). */
  readonly #deadLetterOf = new Map<string, string | null>();
  #pool: ShardPool | undefined;
  #forwarder: Forwarder<unknown> | undefined;
  #redrives: RedriveTasks | undefined;
  readonly #sink: SessionSink;
  readonly #unroutable: string | undefined;
  readonly #cluster: RouterOptions['cluster'];
  /** Queues that exist, for deadLetter checks: this node's own, or the cluster's. */
  readonly #catalog: QueueCatalog;

  constructor(sink: SessionSink, options: RouterOptions = {}) {
    this.#sink = sink;
    this.#unroutable = options.unroutableQueue;
    this.#cluster = options.cluster;
    this.#catalog = options.cluster?.catalog ?? {
      exists: (name) => this.#queues.has(name),
      deadLetterOf: (name) => this.#deadLetterOf.get(name),
      count: () => this.#queues.size,
    };
  }

  attach(pool: ShardPool): void {
    this.#pool = pool;
    const lookup = { placement: (name: string) => this.#queues.get(name) };
    this.#forwarder = new Forwarder(pool, this.#cluster?.moves(pool) ?? new LocalTargets(pool, lookup));
    this.#redrives = new RedriveTasks(pool, lookup, this.#catalog, this.#cluster?.taskPrefix ?? '');
  }

  /** Stops retry timers and redrive tasks. */
  close(): void {
    this.#forwarder?.close();
    this.#redrives?.close();
  }

  /** Moves carried between shards since start (tests and logs). */
  get forwardsDelivered(): number {
    return this.#forwarder?.delivered ?? 0;
  }

  get queueCount(): number {
    return this.#queues.size;
  }

  /** Cluster mode: this node now runs queue `name` (id `id`) on `shard` (it leads its partition). */
  place(name: string, shard: number, id: string): void {
    this.#placeQueue(name, shard, id);
  }

  /** Cluster mode: this node stopped leading queue `qid`, so it no longer carries the queue's moves. */
  stopCarrying(qid: string): void {
    this.#forwarder?.dropSource(qid);
  }

  /** Cluster mode: this node no longer runs queue `name`; its subscriptions here end with `error`. */
  forget(name: string, error: WireError): void {
    const placed = this.#queues.get(name);
    if (placed === undefined) return;
    this.#unplaceQueue(name);
    for (const [session, subs] of this.#subs) {
      for (const [sub, route] of subs) {
        if (route.qid !== placed.id) continue;
        subs.delete(sub);
        this.#sink.subEnd(session, sub, error);
      }
    }
  }

  /** Cluster mode: an internal request (partitioned queues: sendIfGroup, heldGroups) for queue `name` this node runs. */
  internal(name: string, session: number, req: QueueRequest, done: (a: Answer) => void): void {
    const placed = this.#queues.get(name);
    if (placed === undefined || this.#pool === undefined) return done(fail(ErrorCodes.QueueDoesNotExist, `queue ${name} does not exist`, 'queue'));
    this.#pool.request(placed.shard, (r) => ({ t: 'req', r, qid: placed.id, session, req }), done);
  }

  // ShardPoolEvents
  shardUp(shard: number, queues: QueueInfo[]): void {
    for (const q of queues) {
      this.#placeQueue(q.name, shard, q.id);
      this.#deadLetterOf.set(q.name, q.attributes.deadLetter?.queue ?? null);
    }
  }

  forward(shard: number, f: ForwardId, record: ForwardRecord): void {
    this.#forwarder?.forward(shard, f, record);
  }

  forwardDone(_shard: number, f: ForwardId, drained: boolean): void {
    this.#forwarder?.forwardDone(f, drained);
  }

  shardDown(shard: number): void {
    this.#forwarder?.shardDown(shard);
    const gone: WireError = { code: ErrorCodes.ShardUnavailable, message: `shard ${shard} restarted; subscribe again`, retryable: true };
    for (const [session, subs] of this.#subs) {
      for (const [sub, route] of subs) {
        if (route.shard !== shard) continue;
        subs.delete(sub);
        this.#sink.subEnd(session, sub, gone);
      }
    }
  }

  push(session: number, sub: number, messages: Deliveries): void {
    if (messages instanceof EncodedCbor && this.#sink.pushEncoded !== undefined) this.#sink.pushEncoded(session, sub, messages);
    else this.#sink.push(session, sub, valueOf(messages));
    const route = this.#subs.get(session)?.get(sub);
    if (route !== undefined) this.#sink.pushed?.(route.queue, messages instanceof EncodedCbor ? messages.count : messages.length);
  }

  subEnd(session: number, sub: number, error: WireError): void {
    this.#subs.get(session)?.delete(sub);
    this.#sink.subEnd(session, sub, error);
  }

  /** A connection closed: its subscriptions end and their leases are released on every shard. */
  closeSession(session: number): void {
    this.#subs.delete(session);
    this.#nextSub.delete(session);
    // Requests of this connection held back by a create or delete must not run later: the shards
    // would take them after this closeSession, and a subscribe or long poll of a dead connection
    // would then lease messages nobody can receive until their visibility timeout.
    for (const held of this.#changing.values()) {
      for (let i = held.length - 1; i >= 0; i--) if (held[i]!.session === session) held.splice(i, 1)[0]!.drop();
    }
    this.#pool?.broadcast({ t: 'closeSession', session });
  }

  /** Routes one validated request; `done` gets its answer exactly once. */
  dispatch(session: number, req: ValidRequest, done: (a: Answer) => void): void {
    const pool = this.#pool;
    if (pool === undefined) return done(fail(ErrorCodes.ShardUnavailable, 'broker is starting'));
    switch (req.op) {
      case 'listQueues':
        return done({ result: this.#list(req.args) });
      case 'startRedrive':
        return this.#redrives!.start(req.args, done);
      case 'listRedrives':
        return done({ result: { tasks: this.#redrives!.list() } });
      case 'cancelRedrive':
        return this.#redrives!.cancel(req.args.task, done);
      case 'moveQueue':
      case 'drainNode':
        return done(fail(ErrorCodes.ClusterOnly, `${req.op} needs cluster mode (ferry server --cluster-etcd)`));
      case 'createQueue': {
        const refused = this.#checkDeadLetter(req.args.queue, req.args.attributes);
        if (refused !== undefined) return done(refused);
        return this.#create(session, req, done);
      }
      case 'credit':
      case 'unsubscribe': {
        const route = this.#subs.get(session)?.get(req.args.sub);
        if (route === undefined) return done(fail(ErrorCodes.UnknownSubscription, `no subscription ${req.args.sub} on this connection`, 'sub'));
        if (req.op === 'unsubscribe') this.#subs.get(session)?.delete(req.args.sub);
        return pool.request(route.shard, (r) => ({ t: 'req', r, qid: route.qid, session, req: toQueueRequest(req) }), done);
      }
      default: {
        const name = req.args.queue;
        const held = this.#changing.get(name);
        if (held !== undefined) return this.#holdBack(held, session, req, done);
        const placed = this.#queues.get(name);
        if (placed === undefined) {
          if (req.op === 'send') return this.#unroutableSend(name, [req.args], done);
          if (req.op === 'sendBatch') return this.#unroutableSend(name, req.args.entries, done);
          return done(fail(ErrorCodes.QueueDoesNotExist, `queue ${name} does not exist`, 'queue'));
        }
        if (req.op === 'subscribe') return this.#subscribe(session, req.args, placed, done);
        if (req.op === 'send' || req.op === 'sendBatch') return this.#send(pool, placed, session, req, done);
        if (req.op === 'setQueueAttributes') {
          const refused = this.#checkDeadLetter(name, req.args.attributes);
          if (refused !== undefined) return done(refused);
        }
        const queueReq = toQueueRequest(req);
        if (req.op === 'deleteQueue') this.#changing.set(name, []);
        return pool.request(placed.shard, (r) => ({ t: 'req', r, qid: placed.id, session, req: queueReq }), (answer) => {
          if (req.op === 'deleteQueue' && 'result' in answer && this.#queues.get(name)?.id === placed.id) {
            this.#unplaceQueue(name);
            this.#deadLetterOf.delete(name);
          }
          if (req.op === 'setQueueAttributes' && 'result' in answer) this.#noteAttributes(name, (answer.result as { attributes: QueueAttributes }).attributes);
          done(answer);
          if (req.op === 'deleteQueue') this.#release(name);
        });
      }
    }
  }

  /**
   * A send or sendBatch to a placed queue: its answer goes straight to `done`. Nothing of the
   * request is kept while it is in flight (its entries and their bodies, views into the client's
   * WebSocket message, are copied into the shard's buffer when the turn's sends are packed): a
   * closure holding the request kept them alive for the round trip, and with 1,600 requests in
   * flight (issue 5's queues-10k) the main thread's scavenges copied and promoted them.
   */
  #send(pool: ShardPool, placed: Placement, session: number, req: Extract<ValidRequest, { op: 'send' | 'sendBatch' }>, done: (a: Answer) => void): void {
    pool.request(placed.shard, (r) => ({ t: 'req', r, qid: placed.id, session, req: toQueueRequest(req) }), done);
  }

  #list(args: OpArgs<'listQueues'>): { queues: string[]; next?: string } {
    const limit = args.limit ?? Limits.maxListLimit;
    const prefix = args.prefix ?? '';
    const names = [...this.#queues.keys()]
      .filter((n) => n.startsWith(prefix) && (args.after === undefined || n > args.after))
      .sort();
    const page = names.slice(0, limit);
    return names.length > limit ? { queues: page, next: page[page.length - 1]! } : { queues: page };
  }

  #create(session: number, req: Extract<ValidRequest, { op: 'createQueue' }>, done: (a: Answer) => void): void {
    const pool = this.#pool!;
    const name = req.args.queue;
    const held = this.#changing.get(name);
    if (held !== undefined) return this.#holdBack(held, session, req, done);
    const placed = this.#queues.get(name);
    if (placed !== undefined) {
      return pool.request(placed.shard, (r) => ({ t: 'req', r, qid: placed.id, session, req: toQueueRequest(req) }), done);
    }
    const shard = this.#leastLoadedShard(pool);
    if (shard === undefined) return done(fail(ErrorCodes.ShardUnavailable, 'no shard is up; retry'));
    const id = randomBytes(8).toString('hex');
    this.#changing.set(name, []);
    this.#creatingOn.set(name, shard);
    const attributes = req.args.attributes ?? {};
    pool.request(shard, (r) => ({ t: 'create', r, id, name, attributes, createdAt: Date.now() }), (answer) => {
      this.#creatingOn.delete(name);
      if ('result' in answer) {
        this.#placeQueue(name, shard, id);
        this.#noteAttributes(name, (answer.result as { attributes: QueueAttributes }).attributes);
      }
      done(answer);
      this.#release(name);
    });
  }

  /** The create or delete of `name` finished: run what waited for it, in arrival order. */
  #release(name: string): void {
    const held = this.#changing.get(name) ?? [];
    this.#changing.delete(name);
    for (const h of held) h.run();
  }

  #holdBack(held: HeldRequest[], session: number, req: ValidRequest, done: (a: Answer) => void): void {
    held.push({
      session,
      run: () => this.dispatch(session, req, done),
      drop: () => done(fail(ErrorCodes.ConnectionClosed, 'the connection closed before the request ran')),
    });
  }

  #noteAttributes(name: string, attributes: QueueAttributes): void {
    this.#deadLetterOf.set(name, attributes.deadLetter?.queue ?? null);
  }

  /** A deadLetter setting must name an existing queue and close no cycle (dead-letter-check.ts). */
  #checkDeadLetter(name: string, attributes: Partial<QueueAttributes> | undefined): Answer | undefined {
    const error = checkDeadLetter(name, attributes, this.#catalog);
    return error === undefined ? undefined : { error };
  }

  /**
   * A send to a queue that does not exist. With a broker-wide unroutableQueue the messages are kept
   * there as dead letters (reason noSuchQueue); the producer still gets QueueDoesNotExist, with
   * `keptIn` naming where they went.
   */
  #unroutableSend(name: string, entries: readonly SendEntry[], done: (a: Answer) => void): void {
    const keeper = this.#unroutable === undefined ? undefined : this.#queues.get(this.#unroutable);
    if (keeper === undefined) return done({ error: noSuchQueue(name) });
    const items = unroutableItems(name, entries, Date.now());
    this.#pool!.request(keeper.shard, (r) => ({ t: 'req', r, qid: keeper.id, session: 0, req: { op: 'insert', args: { items } } }), (answer) => {
      done({ error: 'error' in answer ? noSuchQueue(name) : keptIn(name, this.#unroutable!, items.length) });
    });
  }

  #placeQueue(name: string, shard: number, id: string): void {
    this.#unplaceQueue(name);
    this.#queues.set(name, { shard, id });
    this.#placedOn[shard] = (this.#placedOn[shard] ?? 0) + 1;
  }

  #unplaceQueue(name: string): void {
    const placed = this.#queues.get(name);
    if (placed === undefined) return;
    this.#queues.delete(name);
    this.#placedOn[placed.shard]!--;
  }

  #leastLoadedShard(pool: ShardPool): number | undefined {
    const load = new Array<number>(pool.size).fill(0);
    for (let s = 0; s < pool.size; s++) load[s] = this.#placedOn[s] ?? 0;
    for (const s of this.#creatingOn.values()) load[s]!++;
    let best: number | undefined;
    for (let s = 0; s < pool.size; s++) if (pool.isUp(s) && (best === undefined || load[s]! < load[best]!)) best = s;
    return best;
  }

  #subscribe(session: number, args: OpArgs<'subscribe'>, placed: Placement, done: (a: Answer) => void): void {
    const sub = (this.#nextSub.get(session) ?? 0) + 1;
    this.#nextSub.set(session, sub);
    let subs = this.#subs.get(session);
    if (subs === undefined) this.#subs.set(session, (subs = new Map()));
    subs.set(sub, { shard: placed.shard, qid: placed.id, queue: args.queue });
    this.#pool!.request(placed.shard, (r) => ({ t: 'req', r, qid: placed.id, session, sub, req: { op: 'subscribe', args } }), (answer) => {
      if ('error' in answer) this.#subs.get(session)?.delete(sub);
      done(answer);
    });
  }
}

function toQueueRequest(req: ValidRequest): QueueRequest {
  return { op: req.op, args: req.args } as QueueRequest;
}
