/**
 * The scenarios of issue 5, each written once against BrokerAdapter so that Ferry and the peers are
 * driven the same way. 256-byte bodies unless said; at most 1,000 unconfirmed per producer
 * (batch × window); every loop bounded by a message count and a deadline.
 */
import { Worker } from 'node:worker_threads';
import type { FerryClient } from '../src/client/index.js';
import { IDLE_CLOSE_MS, Unsupported, type BrokerAdapter, type Producer } from './adapters/adapter.js';
import { closeMany, openMany, type Closable } from './bounded.js';
import { CpuMeter, ThreadCpuMeter } from './cpu.js';
import { diffView, scrape, type FerryView } from './ferry-metrics.js';
import { LatencyHistogram, type Percentiles } from './histogram.js';
import { MB, memoryOfAll, openFilesLimit, slope, type MemorySample, type MemoryUse } from './memory.js';
import type { SaturateData } from './saturate-worker.js';
import { LatencyConsumer } from './latency-consumer.js';
import { isFloor } from './floor-process.js';
import { closeAll, drain, openProducers, publish, publishAtRate, randomBody, type RateOutcome } from './load.js';

export interface Sizes {
  bodyBytes: number;
  producers: number;
  publishCount: number;
  publish16Count: number;
  consumeCount: number;
  consume16Count: number;
  limitMs: number;
  latencyRate: number;
  latencyMs: number;
  /**
   * The latency scenario first publishes this long at its rate without counting (a fresh queue,
   * fresh connections and, when it runs first, a fresh broker: JIT, first WAL appends, first
   * collections), then measures latencyMs; the warm-up's own percentiles are reported as a note.
   */
  latencyWarmupMs: number;
  largeCount: number;
  manyQueues: number;
  manyQueuesCount: number;
  isolationMs: number;
  fifoCount: number;
  sqsCount: number;
  /** memory-queued: messages left queued (one queue), and the time bound of filling it. */
  memoryMessages: number;
  memoryFillMs: number;
  /** memory-idle: idle client connections. */
  idleClients: number;
}

export const FULL: Sizes = {
  bodyBytes: 256, producers: 16, publishCount: 200_000, publish16Count: 320_000, consumeCount: 100_000, consume16Count: 160_000,
  limitMs: 15_000, latencyRate: 5000, latencyMs: 10_000, latencyWarmupMs: 2000, largeCount: 3000, manyQueues: 10_000, manyQueuesCount: 200_000,
  isolationMs: 10_000, fifoCount: 100_000, sqsCount: 20_000,
  memoryMessages: 10_000_000, memoryFillMs: 20 * 60_000, idleClients: 10_000,
};

export const SMOKE: Sizes = {
  bodyBytes: 256, producers: 4, publishCount: 3000, publish16Count: 4000, consumeCount: 3000, consume16Count: 4000,
  limitMs: 3000, latencyRate: 1000, latencyMs: 1000, latencyWarmupMs: 200, largeCount: 50, manyQueues: 100, manyQueuesCount: 2000,
  isolationMs: 1000, fifoCount: 2000, sqsCount: 200,
  memoryMessages: 20_000, memoryFillMs: 10_000, idleClients: 100,
};

export interface FerryExtras {
  httpUrl: string;
  /** The admin client (a new one after restart()). */
  readonly admin: FerryClient;
  /** Restarts the broker over its data (same port), as restartInPlace in ferry-process.ts; the adapter reconnects. */
  restart(readyTimeoutMs: number): Promise<{ readySeconds: number }>;
}

export interface ScenarioContext {
  adapter: BrokerAdapter;
  sizes: Sizes;
  /** `n` queue names unique to this run. */
  names(n: number): string[];
  /** The live detail line; pass a function when calling per batch or message (formatted only when drawn). */
  progress(text: string | (() => string)): void;
  ferry: FerryExtras | undefined;
  /** Ferry's WebSocket URL, or a floor's (for load run in worker threads: they make adapters of their own). */
  ferryUrl: string;
}

export interface Measurement {
  /** Messages the measured phase moved, and how long it took. */
  messages: number;
  seconds: number;
  msgsPerSec: number;
  /** Broker CPU seconds per 100,000 messages of the measured phase. */
  cpuPer100k?: number;
  /**
   * The load generator's (this process's, every thread) CPU seconds per 100,000 messages of the
   * measured phase: it shares the machine's cores with the broker, so the two together bound the rate.
   */
  loadGenCpuPer100k?: number;
  latency?: Percentiles;
  /** Isolation: the light queue alone. */
  latencyAlone?: Percentiles;
  /** Latency and isolation: measured sends held back by the 1,000 unconfirmed, their latency counted from when they were held (load.ts RateOutcome). */
  heldBack?: number;
  /** Stopped by its deadline before its message count. */
  timeBounded?: boolean;
  notes?: string[];
  ferry?: FerryView;
  /** Ferry only: the broker's CPU seconds in the measured phase by thread (cpu.ts ThreadCpuMeter). */
  threadCpu?: Record<string, number>;
  memory?: MemoryFigures;
}

/** What a memory scenario saw of the broker's resident memory (bytes). */
export interface MemoryFigures {
  unit: 'messages' | 'connections';
  /** Messages queued or connections open at the end. */
  count: number;
  /** Before the load (the broker idle, fresh). */
  baseline: MemoryUse;
  /** With `count` held, after a short settle. */
  held: MemoryUse;
  /** RSS as the load grew. */
  samples: MemorySample[];
  /** Least-squares RSS growth per message or connection over the samples. */
  bytesPerUnit?: number;
  /** memory-queued on Ferry: the broker restarted over what it held. */
  restart?: RestartFigures;
}

export interface RestartFigures {
  /** From the new process's spawn to ready (recovery included). */
  readySeconds: number;
  /** After the restart and a settle; hwmBytes is the new process's peak, recovery included. */
  held: MemoryUse;
  /** Messages the broker reports in the queue after the restart. */
  count: number;
}

export interface Scenario {
  id: string;
  title: string;
  kind: 'throughput' | 'latency' | 'isolation' | 'memory';
  /** Ferry runs it on a broker of its own (started for it), so its peak memory is its own. */
  freshBroker?: boolean;
  /**
   * Runs once per broker whatever `--reps` says: the memory scenarios fill 10 million messages or
   * open 10,000 connections (minutes per broker) and report a peak, which does not need a median.
   */
  once?: boolean;
  /** True when the scenario runs on this broker, else the reason it is skipped. */
  appliesTo(broker: string): true | string;
  run(ctx: ScenarioContext): Promise<Measurement>;
}

/** Wraps the measured phase: broker and load-generator CPU, and Ferry's /metrics before and after. */
async function measured(ctx: ScenarioContext, phase: () => Promise<{ messages: number; seconds: number; expected: number } & Partial<Measurement>>): Promise<Measurement> {
  const before = ctx.ferry ? await scrape(ctx.ferry.httpUrl) : undefined;
  const cpu = new CpuMeter(ctx.adapter.serverPids());
  const loadGen = new CpuMeter([process.pid]);
  const brokerPid = ctx.ferry === undefined ? undefined : cpu.pids[0];
  const threads = brokerPid === undefined ? undefined : new ThreadCpuMeter(brokerPid);
  const r = await phase();
  const cpuSeconds = cpu.elapsed();
  const threadCpu = threads?.elapsed();
  const loadGenSeconds = loadGen.elapsed();
  const after = ctx.ferry ? await scrape(ctx.ferry.httpUrl) : undefined;
  const m: Measurement = {
    ...r,
    msgsPerSec: r.seconds > 0 ? r.messages / r.seconds : 0,
    timeBounded: r.messages < r.expected,
  };
  delete (m as { expected?: number }).expected;
  if (cpuSeconds !== undefined && r.messages > 0) m.cpuPer100k = (cpuSeconds / r.messages) * 100_000;
  if (loadGenSeconds !== undefined && r.messages > 0) m.loadGenCpuPer100k = (loadGenSeconds / r.messages) * 100_000;
  if (before !== undefined && after !== undefined) m.ferry = diffView(before, after);
  if (threadCpu !== undefined) m.threadCpu = threadCpu;
  return m;
}

const every = (): true => true;

async function publishScenario(ctx: ScenarioContext, queues: number, producers: number, count: number, bodyBytes: number, batch: number, window: number): Promise<Measurement> {
  const names = ctx.names(queues);
  await ctx.adapter.createQueues(names);
  const prods = await openProducers(ctx.adapter, producers);
  try {
    const body = randomBody(bodyBytes);
    return await measured(ctx, async () => {
      const t0 = performance.now();
      const confirmed = await publish({
        producers: prods,
        queueFor: (p, k) => names[queues === producers ? p : (p + k * producers) % queues]!,
        perProducer: Math.ceil(count / producers), batch, window,
        deadline: t0 + ctx.sizes.limitMs, body: () => body,
        onProgress: (n) => ctx.progress(() => `${n.toLocaleString('en-US')} confirmed`),
      });
      return { messages: confirmed, seconds: (performance.now() - t0) / 1000, expected: Math.ceil(count / producers) * producers };
    });
  } finally {
    await closeAll(prods);
    await ctx.adapter.deleteQueues(names);
  }
}

async function consumeScenario(ctx: ScenarioContext, queues: number, count: number): Promise<Measurement> {
  const names = ctx.names(queues);
  await ctx.adapter.createQueues(names);
  try {
    const prods = await openProducers(ctx.adapter, Math.min(4, queues));
    const perQueue = Math.ceil(count / queues);
    const body = randomBody(ctx.sizes.bodyBytes);
    let filled = 0;
    try {
      // Fill each queue (not measured); one producer per queue stripe.
      await Promise.all(prods.map(async (p, i) => {
        const mine = names.filter((_, q) => q % prods.length === i);
        // Add after the await: `filled += await …` would read `filled` before the stripes ran, and the
        // last stripe to finish would overwrite the others' counts (the drain then stopped early).
        const n = await publish({
          producers: mine.map(() => p), queueFor: (pi) => mine[pi]!, perProducer: perQueue, batch: 100, window: Math.max(1, Math.floor(10 / mine.length)),
          deadline: performance.now() + ctx.sizes.limitMs * 4, body: () => body,
          onProgress: () => ctx.progress(() => `filling ${filled.toLocaleString('en-US')}`),
        });
        filled += n;
      }));
    } finally {
      await closeAll(prods);
    }
    return await measured(ctx, async () => {
      const r = await drain(ctx.adapter, names, 1000, filled, performance.now() + ctx.sizes.limitMs, (n) => ctx.progress(() => `${n.toLocaleString('en-US')} consumed`));
      return { messages: r.received, seconds: r.seconds, expected: filled };
    });
  } finally {
    await ctx.adapter.deleteQueues(names);
  }
}

/**
 * One producer (on the harness's main thread) and one latency consumer (in a thread of its own,
 * latency-consumer.ts) on a queue; publishing at a rate, warm-up or measured.
 */
class LatencyClients {
  private constructor(
    private readonly ctx: ScenarioContext,
    private readonly queue: string,
    private readonly producer: Producer,
    private readonly consumer: LatencyConsumer,
  ) {}

  static async open(ctx: ScenarioContext, queue: string): Promise<LatencyClients> {
    const consumer = await LatencyConsumer.start(ctx.adapter.name, ctx.ferryUrl, queue);
    try {
      const [producer] = await openProducers(ctx.adapter, 1);
      return new LatencyClients(ctx, queue, producer!, consumer);
    } catch (err) {
      await closeAll([consumer]);
      throw err;
    }
  }

  /** Publishes at `rate` for `durationMs` without counting: what it receives goes to the warm-up histogram. */
  async warmUp(rate: number, durationMs: number): Promise<void> {
    await this.#publishAt(rate, durationMs);
  }

  /** Publishes at `rate` for `durationMs`, counted as measured, and waits (bounded) until all arrived. */
  async measure(rate: number, durationMs: number): Promise<LatencyRun> {
    this.consumer.measureFromNow();
    const outcome = await this.#publishAt(rate, durationMs);
    await this.consumer.waitForMeasured(outcome.sent, 10_000);
    const { warm, measured } = await this.consumer.histograms();
    return { hist: measured, warm, ...outcome };
  }

  #publishAt(rate: number, durationMs: number): Promise<RateOutcome> {
    return publishAtRate({ producer: this.producer, queue: this.queue, ratePerSec: rate, durationMs, bodyBytes: this.ctx.sizes.bodyBytes, maxUnconfirmed: 1000 });
  }

  async close(): Promise<void> {
    await closeAll([this.producer, this.consumer]);
  }
}

/**
 * A measured fixed-rate run: the latencies (and those of the warm-up before it, if any), and what
 * the publisher sent, held back or never sent (load.ts RateOutcome).
 */
type LatencyRun = RateOutcome & { hist: LatencyHistogram; warm: LatencyHistogram };

/**
 * Notes on a measured run that the percentiles do not show: sends held back by the 1,000
 * unconfirmed (counted in the histogram from when they were held), sends never made, messages not received.
 */
function runNotes(run: LatencyRun, label = ''): string[] {
  const notes: string[] = [];
  if (run.heldBack > 0) notes.push(`${label}${run.heldBack} sends held back by 1,000 unconfirmed, sent late (their latency counts from when they were held)`);
  if (run.unsent > 0) notes.push(`${label}${run.unsent} sends never made: still over 1,000 unconfirmed at the end`);
  if (run.hist.count < run.sent) notes.push(`${label}${run.sent - run.hist.count} of ${run.sent} not received within 10 s`);
  return notes;
}

async function latencyRun(ctx: ScenarioContext, queue: string, rate: number, durationMs: number): Promise<LatencyRun> {
  const clients = await LatencyClients.open(ctx, queue);
  try {
    return await clients.measure(rate, durationMs);
  } finally {
    await clients.close();
  }
}

async function latencyScenario(ctx: ScenarioContext): Promise<Measurement> {
  const [queue] = ctx.names(1);
  await ctx.adapter.createQueues([queue!]);
  const { latencyRate: rate, latencyMs, latencyWarmupMs: warmupMs } = ctx.sizes;
  try {
    const clients = await LatencyClients.open(ctx, queue!);
    try {
      // The warm-up runs outside the measured phase: its messages and CPU are not counted.
      ctx.progress(`warm-up, ${(warmupMs / 1000).toFixed(1)} s at ${rate}/s`);
      await clients.warmUp(rate, warmupMs);
      return await measured(ctx, async () => {
        const t0 = performance.now();
        const ticker = setInterval(() => ctx.progress(`${((performance.now() - t0) / 1000).toFixed(0)} s at ${rate}/s`), 500);
        try {
          const run = await clients.measure(rate, latencyMs);
          const { hist, sent, unsent } = run;
          const notes = runNotes(run);
          const warm = run.warm;
          if (warm.count > 0) {
            const w = warm.summary();
            notes.push(`warm-up (${(warmupMs / 1000).toFixed(1)} s at the same rate before the measured ${latencyMs / 1000} s, not counted): p50 ${w.p50.toFixed(2)} / p99 ${w.p99.toFixed(2)} / max ${w.max.toFixed(2)} ms`);
          }
          return { messages: hist.count, seconds: (performance.now() - t0) / 1000, expected: sent + unsent, latency: hist.summary(), heldBack: run.heldBack, notes };
        } finally {
          clearInterval(ticker);
        }
      });
    } finally {
      await clients.close();
    }
  } finally {
    await ctx.adapter.deleteQueues([queue!]);
  }
}

async function isolationScenario(ctx: ScenarioContext): Promise<Measurement> {
  const [light, heavy] = ctx.names(2);
  await ctx.adapter.createQueues([light!, heavy!]);
  const rate = 100;
  try {
    ctx.progress('light queue alone');
    const alone = await latencyRun(ctx, light!, rate, ctx.sizes.isolationMs);
    const data: SaturateData = { broker: ctx.adapter.name, ferryUrl: ctx.ferryUrl, queue: heavy!, bodyBytes: ctx.sizes.bodyBytes, maxMs: ctx.sizes.isolationMs * 3 + 10_000 };
    const worker = new Worker(new URL('./saturate-worker.js', import.meta.url), { workerData: data });
    const events: Array<{ t: string; confirmed?: number; seconds?: number }> = [];
    const finished = new Promise<{ confirmed: number; seconds: number }>((resolve, reject) => {
      worker.on('message', (m: { t: string; confirmed?: number; seconds?: number }) => {
        events.push(m);
        if (m.t === 'done') resolve({ confirmed: m.confirmed!, seconds: m.seconds! });
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`saturating worker exited (${code}) before it reported`)));
    });
    finished.catch(() => undefined);
    try {
      const until = performance.now() + 30_000;
      while (!events.some((e) => e.t === 'started') && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
      return await measured(ctx, async () => {
        ctx.progress('light queue beside a saturated one');
        await new Promise((r) => setTimeout(r, 500)); // let the saturation build up
        const beside = await latencyRun(ctx, light!, rate, ctx.sizes.isolationMs);
        worker.postMessage('stop');
        const load = await finished;
        return {
          messages: load.confirmed, seconds: load.seconds, expected: load.confirmed, latency: beside.hist.summary(), latencyAlone: alone.hist.summary(),
          heldBack: alone.heldBack + beside.heldBack,
          notes: [
            `4 saturating publishers (own thread) confirmed ${Math.round(load.confirmed / load.seconds).toLocaleString('en-US')} msg/s meanwhile`,
            ...runNotes(alone, 'light queue alone: '), ...runNotes(beside, 'light queue beside: '),
          ],
        };
      });
    } finally {
      worker.postMessage('stop');
      await Promise.race([finished.catch(() => undefined), new Promise((r) => setTimeout(r, 15_000))]);
      await worker.terminate();
    }
  } finally {
    await ctx.adapter.deleteQueues([light!, heavy!]);
  }
}

/** Ferry strict FIFO: 100 message groups, consumed with prefetch; order checked per group. */
async function fifoScenario(ctx: ScenarioContext): Promise<Measurement> {
  const ferry = ctx.ferry!;
  const [queue] = ctx.names(1);
  await ctx.adapter.createQueues([queue!], { strict: true });
  try {
    const groups = 100;
    const count = ctx.sizes.fifoCount;
    const q = ferry.admin.queue(queue!);
    let sentN = 0;
    for (let i = 0; i < count && sentN < count; i += 1000) {
      const entries = Array.from({ length: Math.min(1000, count - i) }, (_, j) => {
        const n = i + j;
        const body = new Uint8Array(ctx.sizes.bodyBytes);
        new DataView(body.buffer).setUint32(0, n, true);
        return { body, groupId: `g${n % groups}` };
      });
      const res = await ferry.admin.request('sendBatch', { queue: queue!, entries } as never);
      sentN += res.results.filter((r) => 'ok' in r).length;
      ctx.progress(`filling ${sentN.toLocaleString('en-US')}`);
    }
    const lastPerGroup = new Map<number, number>();
    let violations = 0;
    return await measured(ctx, async () => {
      const t0 = performance.now();
      let got = 0;
      let finish!: () => void;
      const done = new Promise<void>((r) => (finish = r));
      const consumer = await q.consume((m) => {
        const n = new DataView(m.body.buffer, m.body.byteOffset, 4).getUint32(0, true);
        const g = n % groups;
        if ((lastPerGroup.get(g) ?? -1) > n) violations++;
        lastPerGroup.set(g, n);
        if (++got >= sentN) finish();
      }, { prefetch: 1000 });
      const timer = setTimeout(finish, ctx.sizes.limitMs);
      const ticker = setInterval(() => ctx.progress(`${got.toLocaleString('en-US')} consumed`), 250);
      await done;
      clearTimeout(timer);
      clearInterval(ticker);
      const seconds = (performance.now() - t0) / 1000;
      await consumer.close();
      return { messages: got, seconds, expected: sentN, notes: [`${violations} order violations across ${groups} groups`] };
    });
  } finally {
    await ctx.adapter.deleteQueues([queue!]);
  }
}

/** The SQS API through the AWS SDK: SendMessageBatch (10) ×16 workers, then receive + DeleteMessageBatch. */
async function sqsScenario(ctx: ScenarioContext): Promise<Measurement> {
  const ferry = ctx.ferry!;
  // Ferry is pinned to Node 20 (uWS binaries); the SDK's notice about future Node versions is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const sqs = await import('@aws-sdk/client-sqs');
  const client = new sqs.SQSClient({ endpoint: ferry.httpUrl, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, maxAttempts: 1 });
  const [name] = ctx.names(1);
  let queueUrl: string;
  try {
    const created = await client.send(new sqs.CreateQueueCommand({ QueueName: name! }));
    if (created.QueueUrl === undefined) throw new Error('CreateQueue returned no QueueUrl');
    queueUrl = created.QueueUrl;
  } catch (err) {
    client.destroy();
    throw new Unsupported(`the broker has no working SQS endpoint: ${(err as Error).message}`, { cause: err });
  }
  try {
    const body = 'x'.repeat(ctx.sizes.bodyBytes);
    const count = ctx.sizes.sqsCount;
    let sent = 0;
    let t0 = performance.now();
    const deadline = t0 + ctx.sizes.limitMs;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (sent < count && performance.now() < deadline) {
        sent += 10;
        await client.send(new sqs.SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: body })) }));
        ctx.progress(() => `${sent.toLocaleString('en-US')} sent`);
      }
    }));
    const sendSeconds = (performance.now() - t0) / 1000;
    const sendRate = sent / sendSeconds;
    return await measured(ctx, async () => {
      t0 = performance.now();
      let received = 0;
      const until = t0 + ctx.sizes.limitMs;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (received < sent && performance.now() < until) {
          const r = await client.send(new sqs.ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
          const msgs = r.Messages ?? [];
          if (msgs.length === 0) continue;
          received += msgs.length;
          await client.send(new sqs.DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
          ctx.progress(() => `${received.toLocaleString('en-US')} received+deleted`);
        }
      }));
      return {
        messages: received, seconds: (performance.now() - t0) / 1000, expected: sent,
        notes: [`SendMessageBatch ×16: ${Math.round(sendRate).toLocaleString('en-US')} msg/s; figure is ReceiveMessage + DeleteMessageBatch ×16`],
      };
    });
  } finally {
    await client.send(new sqs.DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => undefined);
    client.destroy();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function brokerMemory(ctx: ScenarioContext): MemoryUse {
  const m = memoryOfAll(ctx.adapter.serverPids());
  if (m === undefined) throw new Unsupported(`cannot read /proc/PID/status of ${ctx.adapter.name}'s server process (no pid known)`);
  return m;
}

/** Lets a broker settle (background flushes, GC after the burst) before the figure is read. */
const SETTLE_MS = 5000;
/** How long a broker restarted over a full backlog may take to be ready again. */
const RECOVERY_TIMEOUT_MS = 10 * 60_000;

function memoryNotes(f: MemoryFigures): string[] {
  const mb = (b: number): string => (b / MB).toFixed(0);
  const notes = [`RSS ${mb(f.baseline.rssBytes)} MB idle → ${mb(f.held.rssBytes)} MB with ${f.count.toLocaleString('en-US')} ${f.unit}; peak (VmHWM) ${mb(f.held.hwmBytes)} MB`];
  if (f.bytesPerUnit !== undefined) notes.push(`RSS grows ${f.bytesPerUnit.toFixed(0)} bytes per ${f.unit === 'messages' ? 'message' : 'connection'} (least squares over ${f.samples.length} samples)`);
  return notes;
}

/**
 * Leaves `memoryMessages` messages of `bodyBytes` queued in one queue (sendBatch of 1,000 from 8
 * connections, 2 batches unconfirmed each) and reads the broker's RSS every tenth of the way and
 * at the end. Nothing consumes: this is what holding a backlog costs.
 */
async function queuedMemoryScenario(ctx: ScenarioContext): Promise<Measurement> {
  const [queue] = ctx.names(1);
  await ctx.adapter.createQueues([queue!]);
  const prods = await openProducers(ctx.adapter, 8);
  try {
    const count = ctx.sizes.memoryMessages;
    const baseline = brokerMemory(ctx);
    const samples: MemorySample[] = [{ count: 0, rssBytes: baseline.rssBytes }];
    const step = Math.max(1000, Math.ceil(count / 10));
    let nextSample = step;
    const body = randomBody(ctx.sizes.bodyBytes);
    const t0 = performance.now();
    const confirmed = await publish({
      producers: prods, queueFor: () => queue!, perProducer: Math.ceil(count / prods.length), batch: 1000, window: 2,
      deadline: t0 + ctx.sizes.memoryFillMs, body: () => body,
      onProgress: (n) => {
        if (n >= nextSample) {
          nextSample += step;
          samples.push({ count: n, rssBytes: brokerMemory(ctx).rssBytes });
        }
        ctx.progress(`${n.toLocaleString('en-US')} queued, RSS ${((samples.at(-1)!.rssBytes) / MB).toFixed(0)} MB`);
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    ctx.progress(`${confirmed.toLocaleString('en-US')} queued in ${seconds.toFixed(0)} s; settling`);
    await sleep(SETTLE_MS);
    const held = brokerMemory(ctx);
    samples.push({ count: confirmed, rssBytes: held.rssBytes });
    const figures: MemoryFigures = { unit: 'messages', count: confirmed, baseline, held, samples };
    const perUnit = slope(samples.slice(1));
    if (perUnit !== undefined) figures.bytesPerUnit = perUnit;
    const notes = memoryNotes(figures);
    notes.push(`filled at ${Math.round(confirmed / seconds).toLocaleString('en-US')} msg/s`);
    if (ctx.ferry !== undefined) {
      const attrs = await ctx.ferry.admin.getQueueAttributes(queue!);
      notes.push(`the broker reports ${attrs.stats.messages.toLocaleString('en-US')} messages in the queue`);
      // The same backlog after a restart: recovery time, and memory during (peak) and after it.
      await closeAll(prods.splice(0));
      ctx.progress(`restarting the broker over ${confirmed.toLocaleString('en-US')} queued messages`);
      const { readySeconds } = await ctx.ferry.restart(RECOVERY_TIMEOUT_MS);
      await sleep(SETTLE_MS);
      const after = brokerMemory(ctx);
      const recovered = (await ctx.ferry.admin.getQueueAttributes(queue!)).stats.messages;
      figures.restart = { readySeconds, held: after, count: recovered };
      notes.push(`after a restart: ready in ${readySeconds.toFixed(1)} s, RSS ${(after.rssBytes / MB).toFixed(0)} MB (peak during recovery ${(after.hwmBytes / MB).toFixed(0)} MB), ${recovered.toLocaleString('en-US')} messages in the queue`);
    }
    return { messages: confirmed, seconds, msgsPerSec: confirmed / seconds, timeBounded: confirmed < count, memory: figures, notes };
  } finally {
    await closeAll(prods);
    await ctx.adapter.deleteQueues([queue!]);
  }
}

/** Source addresses for client connections: 10,000 from one address would crowd its ephemeral ports. */
const SOURCE_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

/** Connect attempts in flight at once, and the bounds of opening all of them and of each one. */
const IDLE_CONCURRENCY = 200;
const IDLE_OPEN_MS = 10 * 60_000;
const IDLE_ATTEMPT_MS = 30_000;

/**
 * Opens `idleClients` connections (IDLE_CONCURRENCY at a time, each attempt and the whole bounded),
 * each makes one request, then reads the broker's RSS. A broker that stops answering ends it with
 * what it reached (a note says where and why; the run is marked time-bounded), and every connection
 * is closed again, a slice at a time, each close bounded, so the broker is not left holding them.
 */
async function idleMemoryScenario(ctx: ScenarioContext): Promise<Measurement> {
  const count = ctx.sizes.idleClients;
  const limit = openFilesLimit();
  // One descriptor per connection here, plus what the harness already holds.
  if (limit !== undefined && limit < count + 500) {
    throw new Unsupported(`${count} connections need more open files than this process may have (ulimit -n is ${limit}); raise it with ulimit -n ${count + 1000}`);
  }
  const [queue] = ctx.names(1);
  await ctx.adapter.createQueues([queue!]);
  let clients: Closable[] = [];
  try {
    await sleep(1000);
    const baseline = brokerMemory(ctx);
    const samples: MemorySample[] = [{ count: 0, rssBytes: baseline.rssBytes }];
    const step = Math.max(1, Math.ceil(count / 10));
    const t0 = performance.now();
    const result = await openMany({
      count, concurrency: IDLE_CONCURRENCY, attemptMs: IDLE_ATTEMPT_MS, deadline: t0 + IDLE_OPEN_MS,
      open: (i, signal) => ctx.adapter.idleClient(queue!, SOURCE_ADDRESSES[i % SOURCE_ADDRESSES.length]!, signal),
      onOpened: (n) => {
        if (n % step === 0) samples.push({ count: n, rssBytes: brokerMemory(ctx).rssBytes });
        if (n % IDLE_CONCURRENCY === 0) ctx.progress(`${n.toLocaleString('en-US')} idle connections, RSS ${(samples.at(-1)!.rssBytes / MB).toFixed(0)} MB`);
      },
    });
    clients = result.opened;
    const reached = clients.length;
    if (reached === 0) throw new Error(`no idle connection opened: ${result.stoppedBy ?? 'unknown'}`);
    const seconds = (performance.now() - t0) / 1000;
    ctx.progress(`${reached.toLocaleString('en-US')} idle connections; settling`);
    await sleep(SETTLE_MS);
    const held = brokerMemory(ctx);
    samples.push({ count: reached, rssBytes: held.rssBytes });
    const figures: MemoryFigures = { unit: 'connections', count: reached, baseline, held, samples };
    const perUnit = slope(samples);
    if (perUnit !== undefined) figures.bytesPerUnit = perUnit;
    const notes = memoryNotes(figures);
    notes.push(`opened in ${seconds.toFixed(1)} s from ${SOURCE_ADDRESSES.join(', ')}`);
    if (result.stoppedBy !== undefined) notes.push(`stopped at ${reached.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} connections: ${result.stoppedBy}`);
    return { messages: reached, seconds, msgsPerSec: reached / seconds, timeBounded: reached < count, memory: figures, notes };
  } finally {
    ctx.progress(`closing ${clients.length.toLocaleString('en-US')} connections`);
    await closeMany(clients, IDLE_CONCURRENCY, IDLE_CLOSE_MS + 1000);
    await ctx.adapter.deleteQueues([queue!]);
  }
}

const ferryOnly = (b: string): true | string => (b === 'ferry' ? true : 'a Ferry feature');

export const SCENARIOS: Scenario[] = [
  {
    id: 'publish-1', title: 'publish with confirms, 1 producer', kind: 'throughput', appliesTo: every,
    run: (ctx) => publishScenario(ctx, 1, 1, ctx.sizes.publishCount, ctx.sizes.bodyBytes, 100, 10),
  },
  {
    id: 'publish-16', title: 'publish with confirms, 16 producers on 16 queues', kind: 'throughput', appliesTo: every,
    run: (ctx) => publishScenario(ctx, ctx.sizes.producers, ctx.sizes.producers, ctx.sizes.publish16Count, ctx.sizes.bodyBytes, 100, 10),
  },
  { id: 'consume-1', title: 'consume + ack, 1 consumer', kind: 'throughput', appliesTo: every, run: (ctx) => consumeScenario(ctx, 1, ctx.sizes.consumeCount) },
  {
    id: 'consume-16', title: 'consume + ack, 16 consumers on 16 queues', kind: 'throughput', appliesTo: every,
    run: (ctx) => consumeScenario(ctx, ctx.sizes.producers, ctx.sizes.consume16Count),
  },
  { id: 'latency', title: 'end-to-end latency at a fixed rate', kind: 'latency', appliesTo: every, run: latencyScenario },
  {
    id: 'large', title: 'publish with confirms, 64 KiB bodies, 1 producer', kind: 'throughput', appliesTo: every,
    run: (ctx) => publishScenario(ctx, 1, 1, ctx.sizes.largeCount, 64 * 1024, 10, 10),
  },
  {
    id: 'queues-10k', title: 'publish spread over 10,000 queues, 16 producers', kind: 'throughput',
    appliesTo: (b) => (b === 'ferry' || b === 'redis' || isFloor(b) ? true : 'setting up 10,000 queues/streams takes minutes on this peer here'),
    run: (ctx) => publishScenario(ctx, ctx.sizes.manyQueues, ctx.sizes.producers, ctx.sizes.manyQueuesCount, ctx.sizes.bodyBytes, 10, 100),
  },
  { id: 'isolation', title: 'light queue at 100 msg/s beside a saturated queue', kind: 'isolation', appliesTo: every, run: isolationScenario },
  { id: 'fifo-strict', title: 'strict FIFO, 100 message groups, consume + ack', kind: 'throughput', appliesTo: ferryOnly, run: fifoScenario },
  { id: 'sqs', title: 'SQS API (AWS SDK): receive + delete batch, 16 workers', kind: 'throughput', appliesTo: ferryOnly, run: sqsScenario },
  {
    id: 'memory-queued', title: 'memory: 10 million queued messages (256 B) in one queue', kind: 'memory', freshBroker: true, once: true,
    // RabbitMQ and NATS publish 13–30k msg/s here: filling 10 million would take 6–13 minutes each.
    appliesTo: (b) => (isFloor(b) ? 'a floor measures the thread shape, not memory' : b === 'ferry' || b === 'redis' ? true : 'filling 10 million messages takes 6–13 minutes on this peer here'),
    run: queuedMemoryScenario,
  },
  {
    id: 'memory-idle', title: 'memory: 10,000 idle client connections', kind: 'memory', freshBroker: true, once: true,
    appliesTo: (b) => (isFloor(b) ? 'a floor measures the thread shape, not memory' : true), run: idleMemoryScenario,
  },
];

/** The issue-2 scenarios, run first. */
export const CORE = ['publish-1', 'publish-16', 'consume-1', 'consume-16', 'latency'];
export const SMOKE_SCENARIOS = CORE;
