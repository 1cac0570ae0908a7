/**
 * Redrive tasks: move messages out of a dead-letter queue, back to the queue each came from (or to
 * one named queue), all of them or up to N, at a rate limit. A task runs on the main thread as a
 * loop of slices: every TICK_MS it asks the DLQ's actor to move as many messages as the rate
 * allows (`redriveBatch`); the actor moves them with the same outbox protocol as dead-lettering
 * (forwarder.ts), so a redrive is crash-safe message by message. Tasks can be listed (progress)
 * and cancelled; they live in memory: a broker restart ends them (the moved messages stay moved).
 */
import { randomBytes } from 'node:crypto';
import { ErrorCodes, type WireError } from '../protocol/errors.js';
import { Limits } from '../protocol/limits.js';
import type { OpArgs, QueueStats, RedriveTask } from '../protocol/ops.js';
import type { QueueCatalog } from './dead-letter-check.js';
import type { QueueLookup } from './forwarder.js';
import type { Answer, ShardPool } from './shard-pool.js';

const TICK_MS = 100;
const MAX_SLICE = 1000;
const KEEP_FINISHED = 100;

interface Task {
  view: RedriveTask;
  budget: number;
  timer: NodeJS.Timeout | undefined;
}

function error(code: WireError['code'], message: string, field?: string): Answer {
  const e: WireError = { code, message };
  if (field !== undefined) e.field = field;
  return { error: e };
}

export class RedriveTasks {
  readonly #pool: ShardPool;
  readonly #queues: QueueLookup;
  readonly #catalog: QueueCatalog;
  readonly #idPrefix: string;
  readonly #tasks = new Map<string, Task>();

  /**
   * `queues` places the dead-letter queues this node serves; `catalog` says which targets exist
   * (in a cluster, on any node); task ids start with `idPrefix`.
   */
  constructor(pool: ShardPool, queues: QueueLookup, catalog: QueueCatalog, idPrefix = '') {
    this.#pool = pool;
    this.#queues = queues;
    this.#catalog = catalog;
    this.#idPrefix = idPrefix;
  }

  start(args: OpArgs<'startRedrive'>, done: (a: Answer) => void): void {
    const dlq = this.#queues.placement(args.queue);
    if (dlq === undefined) return done(error(ErrorCodes.QueueDoesNotExist, `queue ${args.queue} does not exist`, 'queue'));
    if (args.target !== undefined && !this.#catalog.exists(args.target)) {
      return done(error(ErrorCodes.QueueDoesNotExist, `target queue ${args.target} does not exist`, 'target'));
    }
    if (args.target === args.queue) return done(error(ErrorCodes.InvalidField, 'target must differ from queue', 'target'));
    this.#pool.request(dlq.shard, (r) => ({ t: 'req', r, qid: dlq.id, session: 0, req: { op: 'getQueueAttributes', args: { queue: args.queue } } }), (answer) => {
      if ('error' in answer) return done(answer);
      const stats = (answer.result as { stats: QueueStats }).stats;
      const view: RedriveTask = {
        task: this.#idPrefix + randomBytes(6).toString('hex'),
        queue: args.queue,
        state: 'running',
        moved: 0,
        total: Math.min(args.max ?? Number.MAX_SAFE_INTEGER, stats.messages),
        ratePerSec: args.ratePerSec ?? Limits.defaultRedriveRate,
        startedAt: Date.now(),
      };
      if (args.target !== undefined) view.target = args.target;
      const task: Task = { view, budget: 0, timer: undefined };
      this.#tasks.set(view.task, task);
      this.#prune();
      if (view.total === 0) view.state = 'done';
      else this.#schedule(task);
      done({ result: { ...view } });
    });
  }

  list(): RedriveTask[] {
    return [...this.#tasks.values()].map((t) => ({ ...t.view }));
  }

  cancel(id: string, done: (a: Answer) => void): void {
    const task = this.#tasks.get(id);
    if (task === undefined) return done(error(ErrorCodes.InvalidField, `no redrive task ${id}`, 'task'));
    if (task.view.state === 'running') {
      task.view.state = 'cancelled';
      if (task.timer !== undefined) clearTimeout(task.timer);
      task.timer = undefined;
    }
    done({ result: { ...task.view } });
  }

  close(): void {
    for (const t of this.#tasks.values()) {
      if (t.timer !== undefined) clearTimeout(t.timer);
      t.timer = undefined;
      if (t.view.state === 'running') t.view.state = 'cancelled';
    }
  }

  #schedule(task: Task): void {
    task.timer = setTimeout(() => this.#slice(task), TICK_MS);
  }

  #slice(task: Task): void {
    task.timer = undefined;
    const v = task.view;
    if (v.state !== 'running') return;
    task.budget = Math.min(task.budget + (v.ratePerSec * TICK_MS) / 1000, Math.max(1, v.ratePerSec));
    const n = Math.min(Math.floor(task.budget), v.total - v.moved, MAX_SLICE);
    if (n < 1) return this.#schedule(task);
    const dlq = this.#queues.placement(v.queue);
    if (dlq === undefined) {
      // Cluster mode: the queue may live on, led by another node (its tasks do not follow it).
      const why = this.#catalog.exists(v.queue) ? 'is now led by another node; start the redrive again' : 'was deleted';
      return this.#finish(task, 'failed', `queue ${v.queue} ${why}`);
    }
    const args: { max: number; target?: string } = { max: n };
    if (v.target !== undefined) args.target = v.target;
    this.#pool.request(dlq.shard, (r) => ({ t: 'req', r, qid: dlq.id, session: 0, req: { op: 'redriveBatch', args } }), (answer) => {
      if (v.state !== 'running') return;
      if ('error' in answer) {
        if (answer.error.retryable === true) return this.#schedule(task);
        return this.#finish(task, 'failed', answer.error.message);
      }
      const { moved } = answer.result as { moved: number; remaining: number };
      v.moved += moved;
      task.budget -= moved;
      // Fewer moved than asked: nothing more is movable now (empty, or only leased messages left).
      if (v.moved >= v.total || moved < n) return this.#finish(task, 'done');
      this.#schedule(task);
    });
  }

  #finish(task: Task, state: 'done' | 'failed', message?: string): void {
    task.view.state = state;
    if (message !== undefined) task.view.error = message;
  }

  /** Keeps the most recent finished tasks only. */
  #prune(): void {
    const finished = [...this.#tasks.values()].filter((t) => t.view.state !== 'running');
    for (const t of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.#tasks.delete(t.view.task);
  }
}
