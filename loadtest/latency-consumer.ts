/**
 * The main thread's side of the latency consumer (latency-consumer-worker.ts runs it in a thread of
 * its own): start it, move the start of the measured phase, wait (bounded) for a number of
 * measured messages, fetch the histograms, stop it.
 */
import { Worker } from 'node:worker_threads';
import { withTimeout } from './adapters/adapter.js';
import { nowNs } from './clock.js';
import { LatencyHistogram, type HistogramState } from './histogram.js';

/** What the worker is started with. */
export interface ConsumerData {
  broker: string;
  ferryUrl: string;
  queue: string;
  prefetch: number;
  /** sharedViews() of it: when the measured phase starts, and how many bodies each histogram holds. */
  shared: SharedArrayBuffer;
}

export type ToConsumer = { t: 'histograms' } | { t: 'stop' };
export type FromConsumer =
  | { t: 'ready' }
  | { t: 'histograms'; warm: HistogramState; measured: HistogramState }
  | { t: 'failed'; message: string };

/** Not measuring yet: no stamp is at or after this. */
const NEVER = 2n ** 63n - 1n;

/** The shared memory both threads see: [0] of measuredFromNs (CLOCK_MONOTONIC ns), counts [warm, measured]. */
export function sharedViews(shared: SharedArrayBuffer): { measuredFromNs: BigInt64Array; counts: Int32Array } {
  return { measuredFromNs: new BigInt64Array(shared, 0, 1), counts: new Int32Array(shared, 8, 2) };
}

/** How long the worker may take to connect and start consuming, to answer, or to stop. */
const START_MS = 30_000;
const ANSWER_MS = 10_000;
const STOP_MS = 15_000;

export class LatencyConsumer {
  readonly #worker: Worker;
  readonly #views: ReturnType<typeof sharedViews>;
  /** The one reply awaited, by its type (requests are one at a time). */
  readonly #awaiting = new Map<FromConsumer['t'], { resolve: (m: FromConsumer) => void; reject: (err: Error) => void }>();
  #ended: Error | undefined;
  /** The thread's exit; `failed` first when it reported a failure. */
  readonly #exited: Promise<void>;
  #failed: Error | undefined;

  private constructor(worker: Worker, shared: SharedArrayBuffer) {
    this.#worker = worker;
    this.#views = sharedViews(shared);
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: FromConsumer) => {
      if (m.t === 'failed') return this.#end((this.#failed = new Error(`latency consumer: ${m.message}`)));
      const w = this.#awaiting.get(m.t);
      this.#awaiting.delete(m.t);
      w?.resolve(m);
    });
    worker.once('error', (err) => this.#end((this.#failed = err)));
    worker.once('exit', (code) => this.#end(new Error(`latency consumer thread exited (${code})`)));
  }

  /** Starts the consumer thread on `queue` of `broker` and resolves once it consumes. */
  static async start(broker: string, ferryUrl: string, queue: string, prefetch = 1000): Promise<LatencyConsumer> {
    const shared = new SharedArrayBuffer(16);
    Atomics.store(sharedViews(shared).measuredFromNs, 0, NEVER);
    const data: ConsumerData = { broker, ferryUrl, queue, prefetch, shared };
    const worker = new Worker(new URL('./latency-consumer-worker.js', import.meta.url), { workerData: data, name: 'latency-consumer' });
    const consumer = new LatencyConsumer(worker, shared);
    try {
      await withTimeout('latency consumer start', START_MS, () => consumer.#reply('ready'));
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    return consumer;
  }

  /** From now on, bodies stamped now or later count as measured; earlier ones as warm-up. */
  measureFromNow(): void {
    Atomics.store(this.#views.measuredFromNs, 0, nowNs());
  }

  /** Measured bodies recorded so far. */
  get measuredCount(): number {
    return Atomics.load(this.#views.counts, 1);
  }

  /** Waits until `count` measured bodies were recorded or `timeoutMs` passed (polling every 20 ms). */
  async waitForMeasured(count: number, timeoutMs: number): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (this.measuredCount < count && this.#ended === undefined && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  /** Copies of both histograms as they are now. */
  async histograms(): Promise<{ warm: LatencyHistogram; measured: LatencyHistogram }> {
    const reply = this.#reply('histograms');
    this.#worker.postMessage({ t: 'histograms' } satisfies ToConsumer);
    const m = await withTimeout('latency consumer histograms', ANSWER_MS, () => reply);
    if (m.t !== 'histograms') throw new Error(`latency consumer answered ${m.t}`);
    return { warm: LatencyHistogram.fromState(m.warm), measured: LatencyHistogram.fromState(m.measured) };
  }

  /**
   * Stops consuming and closes the thread's connections; the thread is terminated if it has not
   * ended within STOP_MS (a client library that keeps a handle open). Throws what the thread
   * reported failing, if anything did.
   */
  async stop(): Promise<void> {
    if (this.#ended === undefined) {
      this.#worker.postMessage({ t: 'stop' } satisfies ToConsumer);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_MS)))]);
      clearTimeout(timer);
    }
    await this.#worker.terminate();
    if (this.#failed !== undefined) throw this.#failed;
  }

  #reply(t: FromConsumer['t']): Promise<FromConsumer> {
    if (this.#ended !== undefined) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => this.#awaiting.set(t, { resolve, reject }));
  }

  #end(err: Error): void {
    this.#ended ??= err;
    for (const w of this.#awaiting.values()) w.reject(this.#ended);
    this.#awaiting.clear();
  }
}
