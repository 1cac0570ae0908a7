/**
 * Prometheus metrics (prom-client), served at GET /metrics. Counters are kept on the main thread
 * from the answers that pass through it; queue depths are asked of the shards at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ShardQueueStats } from '../actors/shard-messages.js';
import type { Answer } from '../supervisor/shard-pool.js';
import type { OpName } from '../protocol/ops.js';
import { EncodedCbor } from '../protocol/encoded.js';
import { processCpuByRole } from '../common/thread-cpu.js';

/** QueueStats counters exported as ferry_queue_outcomes_total. */
const OUTCOMES = ['expired', 'deadLettered', 'dropped', 'late', 'duplicates'] as const;

/** Events ferry_messages_total counts per queue. */
const EVENTS = ['sent', 'received', 'deleted', 'pushed'] as const;
type MessageEvent = (typeof EVENTS)[number];
/** A queue's message counts by event; undefined until the event first happened (then a series exists, as prom-client would make it). */
type QueueCounts = { [E in MessageEvent]: number | undefined };

/**
 * Counters on the request path are plain numbers, handed to prom-client when /metrics is scraped
 * (`collect`): a prom-client `inc` with labels hashes the label set on every call, and three of
 * them per request were 7–8% of the main thread's time under load (profiled, queues-10k and
 * latency). The duration histogram still observes through prom-client, from a child bound to its
 * op once.
 */
export class BrokerMetrics {
  readonly registry = new Registry();
  readonly #requestCounts = new Map<string, number>();
  readonly #errors: Counter<'op' | 'code'>;
  readonly #duration: Histogram<'op'>;
  readonly #durationOf = new Map<string, { observe(seconds: number): void }>();
  readonly #messageCounts = new Map<string, QueueCounts>();
  readonly connections: Gauge;

  constructor(queueStats: () => Promise<ShardQueueStats[]>) {
    const registers = [this.registry];
    const requestCounts = this.#requestCounts;
    const messageCounts = this.#messageCounts;
    collectDefaultMetrics({ register: this.registry, prefix: 'ferry_' });
    new Counter({
      name: 'ferry_requests_total', help: 'Requests by op', labelNames: ['op'], registers,
      collect() {
        this.reset();
        for (const [op, n] of requestCounts) this.inc({ op }, n);
      },
    });
    this.#errors = new Counter({ name: 'ferry_request_errors_total', help: 'Failed requests by op and error code', labelNames: ['op', 'code'], registers });
    this.#duration = new Histogram({
      name: 'ferry_request_duration_seconds', help: 'Time from request decoded to answer ready (includes fsync)', labelNames: ['op'], registers,
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 20],
    });
    new Counter({
      name: 'ferry_messages_total', help: 'Messages by queue and event (sent, received, deleted, pushed)', labelNames: ['queue', 'event'], registers,
      collect() {
        this.reset();
        for (const [queue, counts] of messageCounts) {
          for (const event of EVENTS) {
            const n = counts[event];
            if (n !== undefined) this.inc({ queue, event }, n);
          }
        }
      },
    });
    new Counter({
      name: 'ferry_thread_cpu_seconds_total',
      help: 'CPU seconds of this process by thread: main, shard-N, syncer-N (its WAL syncer), rocksdb (flush and compaction), other (V8 garbage collection and compiler, libuv, and threads that ended, e.g. a shard restarted after a crash); Linux only. A restarted shard starts again from 0',
      labelNames: ['thread'], registers,
      collect() {
        this.reset();
        for (const [thread, seconds] of processCpuByRole(process.pid) ?? []) this.inc({ thread }, seconds);
      },
    });
    this.connections = new Gauge({ name: 'ferry_connections', help: 'Open WebSocket connections', registers });
    new Gauge({
      name: 'ferry_queue_messages', help: 'Messages in a queue by state (visible, leased, delayed)', labelNames: ['queue', 'state'], registers,
      async collect() {
        this.reset();
        for (const q of await queueStats()) {
          this.set({ queue: q.name, state: 'visible' }, q.visible);
          this.set({ queue: q.name, state: 'leased' }, q.leased);
          this.set({ queue: q.name, state: 'delayed' }, q.delayed);
        }
      },
    });
    new Counter({
      name: 'ferry_queue_outcomes_total',
      help: 'Messages that left a queue other than by delete, or were refused, by outcome (expired, deadLettered, dropped, late, duplicates); counted by the shard since it started',
      labelNames: ['queue', 'outcome'], registers,
      // The shards keep these counters (QueueStats); a scrape copies them, so they reset with the shard.
      async collect() {
        this.reset();
        for (const q of await queueStats()) {
          for (const outcome of OUTCOMES) if (q[outcome] > 0) this.inc({ queue: q.name, outcome }, q[outcome]);
        }
      },
    });
    new Gauge({
      name: 'ferry_queue_oldest_age_seconds', help: 'Age of the oldest message in a queue', labelNames: ['queue'], registers,
      async collect() {
        this.reset();
        for (const q of await queueStats()) this.set({ queue: q.name }, q.oldestAgeMs / 1000);
      },
    });
  }

  /**
   * Counts one answered request of `op` on `queue` (see `queueOf`); `startedAt` from performance.now().
   * Takes the request's op and queue name, not the request: a caller keeps only those while the
   * request is in flight.
   */
  answered(op: OpName, queue: string | undefined, answer: Answer, startedAt: number): void {
    this.#requestCounts.set(op, (this.#requestCounts.get(op) ?? 0) + 1);
    let duration = this.#durationOf.get(op);
    if (duration === undefined) this.#durationOf.set(op, (duration = this.#duration.labels(op)));
    duration.observe((performance.now() - startedAt) / 1000);
    if ('error' in answer) {
      this.#errors.inc({ op, code: answer.error.code });
      return;
    }
    if (queue === undefined) return;
    // A deleted queue's series end with it: kept, every queue ever created stayed in memory and in
    // every scrape (issue 5's harness creates and deletes 10,000 queues per queues-10k run).
    if (op === 'deleteQueue') return void this.#messageCounts.delete(queue);
    const encoded = answer.result instanceof EncodedCbor ? answer.result.count : undefined;
    const result = answer.result as { messages?: unknown[]; results?: Array<{ ok?: unknown }>; deleted?: boolean };
    switch (op) {
      case 'send': return this.#count(queue, 'sent', 1);
      case 'sendBatch': return this.#count(queue, 'sent', encoded ?? countOk(result.results));
      case 'receive': return this.#count(queue, 'received', encoded ?? result.messages?.length ?? 0);
      case 'delete': return result.deleted === true ? this.#count(queue, 'deleted', 1) : undefined;
      case 'deleteBatch': return this.#count(queue, 'deleted', encoded ?? countOk(result.results));
      case 'deleteReceipts': {
        const counted = answer.result as { deleted?: number; gone?: number };
        return this.#count(queue, 'deleted', (counted.deleted ?? 0) + (counted.gone ?? 0));
      }
      default: return;
    }
  }

  #count(queue: string, event: MessageEvent, n: number): void {
    let counts = this.#messageCounts.get(queue);
    if (counts === undefined) this.#messageCounts.set(queue, (counts = { sent: undefined, received: undefined, deleted: undefined, pushed: undefined }));
    counts[event] = (counts[event] ?? 0) + n;
  }

  pushed(queue: string, count: number): void {
    this.#count(queue, 'pushed', count);
  }
}

function countOk(results: Array<{ ok?: unknown }> | undefined): number {
  return results?.filter((r) => r.ok !== undefined).length ?? 0;
}
