/**
 * ShardPool: the shard worker threads of this node. It starts them, batches what the main thread
 * sends each of them per event-loop turn (one postMessage each), matches answers to requests,
 * and restarts a worker that dies: requests in flight on it fail at once with the retryable
 * ShardUnavailable (never hang), and its queues come back from its RocksDB directory.
 *
 * Workers run the compiled `dist/` code (tsx does not carry its loader into workers on Node 20).
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, type WireError } from '../protocol/errors.js';
import type { DeliveredMessage } from '../protocol/ops.js';
import type { LogEntry } from '../actors/replica-log.js';
import type { FromShard, QueueInfo, ShardQueueStats, ShardWorkerData, ToShard } from '../actors/shard-messages.js';
import { SendPacker, transferables } from '../actors/packing.js';
import { EncodedCbor } from '../protocol/encoded.js';
import type { ForwardId } from '../storage/keys.js';
import type { ForwardRecord } from '../storage/records.js';
import { IdTable } from '../common/id-table.js';
import { lightestFirst } from '../common/lightest-first.js';
import { TraceEvent, TraceGroup, TraceSpan, traceHold, traceNow, traceSpan, traceKeyOfEntries, traceKeysOfPush, traceMarkHeld, tracing } from '../common/trace.js';

/** An answer to one request: the result, or the error. */
/** A result may arrive as EncodedCbor (batch replies, received messages): read it with valueOf. */
export type Answer = { result: unknown } | { error: WireError };

/** Pushed messages, as a shard encoded them or as objects (cluster peers). */
export type Deliveries = DeliveredMessage[] | EncodedCbor<DeliveredMessage[]>;

export interface ShardPoolEvents {
  /** A shard is (again) ready with these queues. */
  shardUp(shard: number, queues: QueueInfo[]): void;
  /** A shard died; its pending requests were already failed. */
  shardDown(shard: number): void;
  push(session: number, sub: number, messages: Deliveries): void;
  subEnd(session: number, sub: number, error: WireError): void;
  /** Cluster mode: a shard committed these log entries (before the replies of the same turn arrive). */
  log?(shard: number, entries: LogEntry[]): void;
  /** An outbox record of `shard`, to carry to its target (forwarder.ts). */
  forward(shard: number, f: ForwardId, record: ForwardRecord): void;
  /** `shard` deleted outbox record (qid, seq); `drained`: the last of a deleted queue's (cluster mode). */
  forwardDone(shard: number, f: ForwardId, drained: boolean): void;
}

export interface ShardPoolOptions {
  dataDir: string;
  shards: number;
  bodyCacheBytes: number;
  /** Cluster mode (see ShardWorkerData.replicated). */
  replicated?: boolean;
  /** Delay before a dead worker is started again. */
  restartDelayMs?: number;
}

/** What a shard's outbox carries, for the order of the flush: messages of sends, one per other item. */
function outboxWeight(slot: Slot): number {
  let w = 0;
  for (const m of slot.outbox) w += m instanceof SendPacker ? m.entries : 1;
  return w;
}

const WORKER_URL = new URL('../actors/shard-worker.js', import.meta.url);

interface Slot {
  worker: Worker | undefined;
  up: boolean;
  /** What goes to the worker at the end of this turn, in order; sends in columns (packing.ts). */
  outbox: Array<ToShard | SendPacker>;
  /** The packer at the end of the outbox, while sends arrive one after another. */
  sends: SendPacker | undefined;
  pending: IdTable<(a: Answer) => void>;
  closed: Promise<void> | undefined;
  restartTimer: NodeJS.Timeout | undefined;
}

export class ShardPool {
  readonly #opts: Required<ShardPoolOptions>;
  readonly #log: Logger;
  readonly #events: ShardPoolEvents;
  readonly #slots: Slot[];
  #nextR = 1;
  #flushScheduled = false;
  #closing = false;

  constructor(opts: ShardPoolOptions, log: Logger, events: ShardPoolEvents) {
    this.#opts = { restartDelayMs: 100, replicated: false, ...opts };
    this.#log = log;
    this.#events = events;
    this.#slots = Array.from({ length: opts.shards }, () => ({
      worker: undefined, up: false, outbox: [], sends: undefined, pending: new IdTable(), closed: undefined, restartTimer: undefined,
    }));
  }

  get size(): number {
    return this.#slots.length;
  }

  isUp(shard: number): boolean {
    return this.#slots[shard]?.up === true;
  }

  get allUp(): boolean {
    return this.#slots.every((s) => s.up);
  }

  /** Starts every worker; resolves when all have recovered their queues. */
  async start(): Promise<void> {
    await Promise.all(this.#slots.map((_, i) => this.#spawn(i)));
  }

  #spawn(shard: number): Promise<void> {
    const slot = this.#slots[shard]!;
    const data: ShardWorkerData = { shard, dir: join(this.#opts.dataDir, `shard-${shard}`), bodyCacheBytes: this.#opts.bodyCacheBytes, replicated: this.#opts.replicated };
    const worker = new Worker(WORKER_URL, { workerData: data, name: `ferry-shard-${shard}` });
    slot.worker = worker;
    let resolveExit!: () => void;
    slot.closed = new Promise((r) => (resolveExit = r));
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (batch: FromShard[]) => {
        const start = tracing ? traceNow() : 0;
        for (const m of batch) {
          if (m.t === 'ready') {
            ready = true;
            slot.up = true;
            this.#log.info({ shard, queues: m.queues.length }, 'shard ready');
            this.#events.shardUp(shard, m.queues);
            resolve();
          } else {
            this.#onAnswer(shard, m);
          }
        }
        if (tracing) traceSpan(TraceSpan.shardAnswers, start);
      });
      worker.on('error', (err) => {
        this.#log.error({ shard, err }, 'shard worker error');
        if (!ready) reject(err);
      });
      worker.on('exit', (code) => {
        resolveExit();
        const wasUp = slot.up;
        slot.up = false;
        slot.worker = undefined;
        this.#failPending(slot, { code: ErrorCodes.ShardUnavailable, message: `shard ${shard} stopped; retry`, retryable: true });
        if (this.#closing) return;
        this.#log.error({ shard, code }, 'shard worker died; restarting');
        if (wasUp) this.#events.shardDown(shard);
        slot.restartTimer = setTimeout(() => {
          slot.restartTimer = undefined;
          this.#spawn(shard).catch((err: unknown) => this.#log.error({ shard, err }, 'shard restart failed'));
        }, this.#opts.restartDelayMs);
        if (!ready) reject(new Error(`shard ${shard} exited with code ${code} before it was ready`));
      });
    });
  }

  #failPending(slot: Slot, error: WireError): void {
    const pending = slot.pending;
    slot.pending = new IdTable();
    slot.outbox = [];
    slot.sends = undefined;
    for (const done of pending.values()) done({ error });
  }

  #onAnswer(shard: number, m: FromShard): void {
    const slot = this.#slots[shard]!;
    switch (m.t) {
      case 'reply':
      case 'fail': {
        const done = slot.pending.get(m.r);
        if (done === undefined) return;
        slot.pending.delete(m.r);
        if (m.t === 'fail') done({ error: m.error });
        else done({ result: m.result });
        return;
      }
      case 'replies': {
        let start = 0;
        for (let i = 0; i < m.rs.length; i++) {
          const end = m.ends[i]!;
          const r = m.rs[i]!;
          const done = slot.pending.get(r);
          if (done !== undefined) {
            slot.pending.delete(r);
            done({ result: new EncodedCbor(m.bytes.subarray(start, end), m.counts[i]!) });
          }
          start = end;
        }
        return;
      }
      case 'push':
        if (tracing) for (const key of traceKeysOfPush(m.encoded)) traceHold(TraceEvent.B, key, TraceGroup.sessionFlush);
        this.#events.push(m.session, m.sub, new EncodedCbor<DeliveredMessage[]>(m.encoded, m.count));
        return;
      case 'subEnd':
        this.#events.subEnd(m.session, m.sub, m.error);
        return;
      case 'stats': {
        const done = slot.pending.get(m.r);
        slot.pending.delete(m.r);
        done?.({ result: m.queues });
        return;
      }
      case 'log':
        this.#events.log?.(shard, m.entries);
        return;
      case 'forward':
        this.#events.forward(shard, m.f, m.record);
        return;
      case 'forwardDone':
        this.#events.forwardDone(shard, m.f, m.drained === true);
        return;
      case 'ready':
      case 'closed':
        return;
    }
  }

  /**
   * Sends a request to a shard; `done` is called exactly once with its answer. A shard that is
   * down answers ShardUnavailable at once.
   */
  request(shard: number, build: (r: number) => ToShard, done: (a: Answer) => void): void {
    const slot = this.#slots[shard];
    if (slot === undefined || !slot.up) {
      done({ error: { code: ErrorCodes.ShardUnavailable, message: `shard ${shard} is restarting; retry`, retryable: true } });
      return;
    }
    const r = this.#nextR++;
    slot.pending.set(r, done);
    this.#enqueue(slot, build(r));
  }

  /** Sends a message that has no answer to one shard; false (dropped) when the shard is down. */
  send(shard: number, m: ToShard): boolean {
    const slot = this.#slots[shard];
    if (slot === undefined || !slot.up) return false;
    this.#enqueue(slot, m);
    return true;
  }

  /** Sends a message that has no answer (closeSession) to every shard that is up. */
  broadcast(m: ToShard): void {
    for (const slot of this.#slots) if (slot.up) this.#enqueue(slot, m);
  }

  /** Stats of every queue on every shard that is up. */
  async stats(): Promise<ShardQueueStats[]> {
    const parts = await Promise.all(this.#slots.map((slot) => new Promise<ShardQueueStats[]>((resolve) => {
      if (!slot.up) return resolve([]);
      const r = this.#nextR++;
      // Waits among the slot's pending requests, so a shard that dies meanwhile answers it
      // (as empty) like any other in-flight request, and a /metrics scrape never hangs.
      slot.pending.set(r, (a) => resolve('result' in a ? (a.result as ShardQueueStats[]) : []));
      this.#enqueue(slot, { t: 'stats', r });
    })));
    return parts.flat();
  }

  /** Fault injection: the shard's thread exits at once. */
  crash(shard: number): boolean {
    const slot = this.#slots[shard];
    if (slot?.worker === undefined || !slot.up) return false;
    slot.worker.postMessage([{ t: 'crash' }]);
    return true;
  }

  /**
   * Adds a message to the shard's outbox for this turn. Sends join the packer at the end of the
   * outbox (a new one after any other message, so the shard sees everything in arrival order).
   */
  #enqueue(slot: Slot, m: ToShard): void {
    if (m.t === 'req' && (m.req.op === 'sendBatch' || m.req.op === 'send')) {
      if (slot.sends === undefined) slot.outbox.push((slot.sends = new SendPacker()));
      if (m.req.op === 'send') slot.sends.add(m.r, m.qid, true, [m.req.args]);
      else slot.sends.add(m.r, m.qid, false, m.req.args.entries);
      if (tracing) traceHold(TraceEvent.M, traceKeyOfEntries(m.req.op === 'send' ? [m.req.args] : m.req.args.entries), slot);
    } else {
      slot.sends = undefined;
      slot.outbox.push(m);
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const start = tracing ? traceNow() : 0;
    // The shard with the least to carry goes first (lightest-first.ts): a light queue's one message
    // is not posted after a saturated queue's batches are packed and posted to another shard.
    // Only the slots with something to post are weighed: one busy shard, the usual case at a low
    // rate, costs no sort.
    const busy = this.#slots.filter((slot): slot is Slot & { worker: Worker } => slot.outbox.length > 0 && slot.worker !== undefined);
    for (const slot of lightestFirst(busy, outboxWeight)) {
      const transfer: ArrayBuffer[] = [];
      const batch = slot.outbox.map((m): ToShard => {
        if (!(m instanceof SendPacker)) return m;
        const packed = m.take();
        transfer.push(...transferables(packed));
        return packed;
      });
      slot.outbox = [];
      slot.sends = undefined;
      slot.worker.postMessage(batch, transfer);
      if (tracing) traceMarkHeld(slot, TraceEvent.F);
    }
    if (tracing) traceSpan(TraceSpan.poolFlush, start);
  }

  /** Lets each worker finish its turn (answers flow back), close RocksDB and exit. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#flush();
    for (const slot of this.#slots) {
      if (slot.restartTimer !== undefined) clearTimeout(slot.restartTimer);
      slot.worker?.postMessage([{ t: 'close' }]);
    }
    // A worker that does not finish closing in time is terminated (safe here: shard workers run no uWS).
    const force = setTimeout(() => {
      for (const slot of this.#slots) void slot.worker?.terminate();
    }, 10_000);
    await Promise.all(this.#slots.map((s) => s.closed));
    clearTimeout(force);
  }
}
