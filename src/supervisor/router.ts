/**
 * Router: the main thread's map of where each queue lives (the node's metadata cache) and of each
 * connection's push subscriptions. It turns a validated request into a message for the shard that
 * owns the queue. Placement is decided here, at create time (the shard with the fewest queues), and
 * persisted by that shard with the queue's record, so after a restart every shard reports its
 * queues again (`shardUp`) and the map is rebuilt from disk.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCodes, type WireError } from '../protocol/errors.js';
import { Limits } from '../protocol/limits.js';
import type { DeliveredMessage, OpArgs } from '../protocol/ops.js';
import type { ValidRequest } from '../protocol/validate.js';
import type { QueueInfo, QueueRequest } from '../actors/shard-messages.js';
import type { Answer, ShardPool, ShardPoolEvents } from './shard-pool.js';

/** Where answers, pushes and subscription ends go: the transport's sessions. */
export interface SessionSink {
  push(session: number, sub: number, messages: DeliveredMessage[]): void;
  subEnd(session: number, sub: number, error: WireError): void;
}

interface Placement {
  shard: number;
  id: string;
}

interface SubRoute {
  shard: number;
  qid: string;
}

function fail(code: WireError['code'], message: string, field?: string): Answer {
  const error: WireError = { code, message };
  if (field !== undefined) error.field = field;
  return { error };
}

export class Router implements ShardPoolEvents {
  readonly #queues = new Map<string, Placement>();
  /** Names being created, with requests that must wait for the outcome. */
  readonly #creating = new Map<string, Array<() => void>>();
  readonly #subs = new Map<number, Map<number, SubRoute>>();
  readonly #nextSub = new Map<number, number>();
  #pool: ShardPool | undefined;
  readonly #sink: SessionSink;

  constructor(sink: SessionSink) {
    this.#sink = sink;
  }

  attach(pool: ShardPool): void {
    this.#pool = pool;
  }

  get queueCount(): number {
    return this.#queues.size;
  }

  /** Cluster mode: this node now runs queue `name` (id `id`) on `shard` (it leads its partition). */
  place(name: string, shard: number, id: string): void {
    this.#queues.set(name, { shard, id });
  }

  /** Cluster mode: this node no longer runs queue `name`; its subscriptions here end with `error`. */
  forget(name: string, error: WireError): void {
    const placed = this.#queues.get(name);
    if (placed === undefined) return;
    this.#queues.delete(name);
    for (const [session, subs] of this.#subs) {
      for (const [sub, route] of subs) {
        if (route.qid !== placed.id) continue;
        subs.delete(sub);
        this.#sink.subEnd(session, sub, error);
      }
    }
  }

  // ShardPoolEvents
  shardUp(shard: number, queues: QueueInfo[]): void {
    for (const q of queues) this.#queues.set(q.name, { shard, id: q.id });
  }

  shardDown(shard: number): void {
    const gone: WireError = { code: ErrorCodes.ShardUnavailable, message: `shard ${shard} restarted; subscribe again`, retryable: true };
    for (const [session, subs] of this.#subs) {
      for (const [sub, route] of subs) {
        if (route.shard !== shard) continue;
        subs.delete(sub);
        this.#sink.subEnd(session, sub, gone);
      }
    }
  }

  push(session: number, sub: number, messages: DeliveredMessage[]): void {
    this.#sink.push(session, sub, messages);
  }

  subEnd(session: number, sub: number, error: WireError): void {
    this.#subs.get(session)?.delete(sub);
    this.#sink.subEnd(session, sub, error);
  }

  /** A connection closed: its subscriptions end and their leases are released on every shard. */
  closeSession(session: number): void {
    this.#subs.delete(session);
    this.#nextSub.delete(session);
    this.#pool?.broadcast({ t: 'closeSession', session });
  }

  /** Routes one validated request; `done` gets its answer exactly once. */
  dispatch(session: number, req: ValidRequest, done: (a: Answer) => void): void {
    const pool = this.#pool;
    if (pool === undefined) return done(fail(ErrorCodes.ShardUnavailable, 'broker is starting'));
    switch (req.op) {
      case 'listQueues':
        return done({ result: this.#list(req.args) });
      case 'createQueue':
        return this.#create(session, req, done);
      case 'credit':
      case 'unsubscribe': {
        const route = this.#subs.get(session)?.get(req.args.sub);
        if (route === undefined) return done(fail(ErrorCodes.UnknownSubscription, `no subscription ${req.args.sub} on this connection`, 'sub'));
        if (req.op === 'unsubscribe') this.#subs.get(session)?.delete(req.args.sub);
        return pool.request(route.shard, (r) => ({ t: 'req', r, qid: route.qid, session, req: toQueueRequest(req) }), done);
      }
      default: {
        const name = req.args.queue;
        if (this.#creating.has(name)) {
          this.#creating.get(name)!.push(() => this.dispatch(session, req, done));
          return;
        }
        const placed = this.#queues.get(name);
        if (placed === undefined) return done(fail(ErrorCodes.QueueDoesNotExist, `queue ${name} does not exist`, 'queue'));
        if (req.op === 'subscribe') return this.#subscribe(session, req.args, placed, done);
        const queueReq = toQueueRequest(req);
        return pool.request(placed.shard, (r) => ({ t: 'req', r, qid: placed.id, session, req: queueReq }), (answer) => {
          if (req.op === 'deleteQueue' && 'result' in answer && this.#queues.get(name)?.id === placed.id) this.#queues.delete(name);
          done(answer);
        });
      }
    }
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
    const waiting = this.#creating.get(name);
    if (waiting !== undefined) {
      waiting.push(() => this.dispatch(session, req, done));
      return;
    }
    const placed = this.#queues.get(name);
    if (placed !== undefined) {
      return pool.request(placed.shard, (r) => ({ t: 'req', r, qid: placed.id, session, req: toQueueRequest(req) }), done);
    }
    const shard = this.#leastLoadedShard(pool);
    if (shard === undefined) return done(fail(ErrorCodes.ShardUnavailable, 'no shard is up; retry'));
    const id = randomBytes(8).toString('hex');
    this.#creating.set(name, []);
    const attributes = req.args.attributes ?? {};
    pool.request(shard, (r) => ({ t: 'create', r, id, name, attributes, createdAt: Date.now() }), (answer) => {
      if ('result' in answer) this.#queues.set(name, { shard, id });
      const waiters = this.#creating.get(name) ?? [];
      this.#creating.delete(name);
      done(answer);
      for (const retry of waiters) retry();
    });
  }

  #leastLoadedShard(pool: ShardPool): number | undefined {
    const load = new Array<number>(pool.size).fill(0);
    for (const p of this.#queues.values()) load[p.shard]!++;
    let best: number | undefined;
    for (let s = 0; s < pool.size; s++) if (pool.isUp(s) && (best === undefined || load[s]! < load[best]!)) best = s;
    return best;
  }

  #subscribe(session: number, args: OpArgs<'subscribe'>, placed: Placement, done: (a: Answer) => void): void {
    const sub = (this.#nextSub.get(session) ?? 0) + 1;
    this.#nextSub.set(session, sub);
    let subs = this.#subs.get(session);
    if (subs === undefined) this.#subs.set(session, (subs = new Map()));
    subs.set(sub, { shard: placed.shard, qid: placed.id });
    this.#pool!.request(placed.shard, (r) => ({ t: 'req', r, qid: placed.id, session, sub, req: { op: 'subscribe', args } }), (answer) => {
      if ('error' in answer) this.#subs.get(session)?.delete(sub);
      done(answer);
    });
  }
}

function toQueueRequest(req: ValidRequest): QueueRequest {
  return { op: req.op, args: req.args } as QueueRequest;
}
