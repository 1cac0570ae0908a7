/**
 * The load loops every scenario is made of, written once for all brokers: a windowed publisher
 * (confirmed batches, a bounded number unconfirmed), a draining consumer, and a fixed-rate
 * publisher for latency. Each loop stops at its message count or its deadline, whichever first.
 */
import { randomFillSync } from 'node:crypto';
import { type BrokerAdapter, type ConsumerHandle, type Producer } from './adapters/adapter.js';
import { closeMany } from './bounded.js';
import { stampNow } from './clock.js';

/** A batch not confirmed within this is a broker that stopped answering: the scenario fails instead of hanging. */
const CONFIRM_MS = 60_000;
const CLOSE_MS = 10_000;

export function randomBody(bytes: number): Uint8Array {
  return randomFillSync(new Uint8Array(bytes));
}

/** A body that carries its send time (clock.ts stampNow(), ms; or `at`) in its first 8 bytes. */
export function stampedBody(bytes: number, filler: Uint8Array, at = stampNow()): Uint8Array {
  const b = new Uint8Array(bytes);
  b.set(filler.subarray(0, bytes));
  new DataView(b.buffer).setFloat64(0, at, true);
  return b;
}

export function stampOf(body: Uint8Array): number {
  return new DataView(body.buffer, body.byteOffset, 8).getFloat64(0, true);
}

export interface PublishPlan {
  /** Producers (one connection each). */
  producers: Producer[];
  /** Which queue the k-th batch of producer p goes to. */
  queueFor(p: number, k: number): string;
  /** Messages each producer sends at most. */
  perProducer: number;
  batch: number;
  /** Batches a producer has unconfirmed at once (batch × window ≤ 1,000 per PEERS.md). */
  window: number;
  deadline: number;
  body: () => Uint8Array;
  /** Called after every confirmed batch with the running total. */
  onProgress?: (confirmed: number) => void;
  /** Checked before each batch: true ends the publishing early. */
  stopped?: () => boolean;
  /** A batch unconfirmed this long fails the publishing (ms; default CONFIRM_MS). */
  confirmMs?: number;
}

/** How often publish() looks for a batch unconfirmed for longer than CONFIRM_MS. */
const WATCHDOG_MS = 1000;

/**
 * Publishes per the plan; resolves with the number of confirmed messages, or rejects when a batch
 * stays unconfirmed for `confirmMs` (a broker that stopped answering). One watchdog timer looks
 * after every batch in flight: a timer, a promise race and a message string per batch were a
 * per-request cost of the load generator (queues-10k confirms 20,000 batches of 10), which shares
 * the cores with the broker it measures.
 */
export async function publish(plan: PublishPlan): Promise<number> {
  const confirmMs = plan.confirmMs ?? CONFIRM_MS;
  let confirmed = 0;
  let stalled: Error | undefined;
  /** Each lane's batch in flight: queue, size and send time (at 0: none). */
  const inFlight: Array<{ queue: string; n: number; at: number }> = [];
  let fail!: (err: Error) => void;
  const watchdog = new Promise<never>((_, reject) => (fail = reject));
  const timer = setInterval(() => {
    const now = performance.now();
    for (const b of inFlight) {
      if (b.at === 0 || now - b.at < confirmMs) continue;
      stalled = new Error(`confirm of ${b.n} messages to ${b.queue}: no answer within ${confirmMs} ms`);
      fail(stalled);
      return;
    }
  }, Math.min(WATCHDOG_MS, confirmMs / 2));
  const all = Promise.all(plan.producers.map(async (producer, p) => {
    let started = 0;
    let k = 0;
    const lane = async (): Promise<void> => {
      const batch = { queue: '', n: 0, at: 0 };
      inFlight.push(batch);
      while (stalled === undefined && started < plan.perProducer && performance.now() < plan.deadline && plan.stopped?.() !== true) {
        const n = Math.min(plan.batch, plan.perProducer - started);
        started += n;
        const bodies = new Array<Uint8Array>(n);
        for (let i = 0; i < n; i++) bodies[i] = plan.body();
        const queue = plan.queueFor(p, k++);
        batch.queue = queue;
        batch.n = n;
        batch.at = performance.now();
        await producer.send(queue, bodies);
        batch.at = 0;
        confirmed += n;
        plan.onProgress?.(confirmed);
      }
    };
    await Promise.all(Array.from({ length: plan.window }, lane));
  }));
  try {
    await Promise.race([all, watchdog]);
  } finally {
    clearInterval(timer);
  }
  return confirmed;
}

export async function openProducers(adapter: BrokerAdapter, n: number): Promise<Producer[]> {
  return Promise.all(Array.from({ length: n }, () => adapter.producer()));
}

/** Closes or stops everything at once; one that takes longer than CLOSE_MS is left to finish on its own. */
export async function closeAll(items: Array<{ close(): Promise<void> } | { stop(): Promise<void> }>): Promise<void> {
  await closeMany(items.map((i) => ({ close: () => ('close' in i ? i.close() : i.stop()) })), items.length, CLOSE_MS);
}

/**
 * Consumes from each queue until `expected` messages arrived in total or the deadline passed.
 * Returns what arrived and when the last one did.
 */
export async function drain(adapter: BrokerAdapter, queues: readonly string[], prefetch: number, expected: number, deadline: number, onProgress?: (n: number) => void): Promise<{ received: number; seconds: number }> {
  let received = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const started = performance.now();
  let lastAt = started;
  const consumers: ConsumerHandle[] = [];
  const onBodies = (bodies: readonly Uint8Array[]): void => {
    received += bodies.length;
    lastAt = performance.now();
    if (received >= expected) finish();
  };
  const ticker = setInterval(() => {
    onProgress?.(received);
    if (performance.now() >= deadline) finish();
  }, 250);
  try {
    for (const q of queues) consumers.push(await adapter.consumer(q, prefetch, onBodies));
    await done;
  } finally {
    clearInterval(ticker);
    await closeAll(consumers);
  }
  return { received, seconds: (lastAt - started) / 1000 };
}

export interface RatePlan {
  producer: Producer;
  queue: string;
  ratePerSec: number;
  durationMs: number;
  bodyBytes: number;
  /** At most this many unconfirmed; a send due past it is held back until a confirm (see publishAtRate). */
  maxUnconfirmed: number;
}

/** What a fixed-rate publishing did. */
export interface RateOutcome {
  /** Messages sent (each is recorded by the consumer when it arrives). */
  sent: number;
  /**
   * Of those, sent late because maxUnconfirmed were unconfirmed when they were due: each was stamped
   * at the pacing tick that found it due and could not send it, so its latency includes the wait.
   */
  heldBack: number;
  /** Messages due that were never sent: still held back when the publishing gave up (at twice its duration). */
  unsent: number;
}

/**
 * Publishes one message at a time at a fixed rate (a 1 ms pacing tick sends what is due), each
 * stamped with its send time (clock.ts); the latency consumer (latency-consumer.ts) records each age.
 *
 * A message due while `maxUnconfirmed` are unconfirmed is not dropped: it waits for a confirm and
 * then goes, stamped with the time of the tick that would have sent it (as a message sent on time
 * is). Dropping it (as this harness did until the fourth session) left the broker's slowest
 * periods out of the histogram, the "coordinated omission" of load generators that wait for the
 * system they measure; stamping it when it was held counts the wait, the same for every broker.
 */
export async function publishAtRate(plan: RatePlan): Promise<RateOutcome> {
  const filler = randomBody(plan.bodyBytes);
  const start = performance.now();
  /** Index of the next message to send; every message before it was sent. */
  let next = 0;
  /**
   * Messages held back (due while the window was full), as ranges in index order: every message
   * below `below` (and not in an earlier range) was first found due and unsendable at time `at`.
   */
  const held: Array<{ below: number; at: number }> = [];
  let h = 0;
  let heldBack = 0;
  let unconfirmed = 0;
  const failures: unknown[] = [];
  const total = Math.round((plan.ratePerSec * plan.durationMs) / 1000);
  const confirmed = (): void => {
    unconfirmed--;
  };
  const failed = (err: unknown): void => {
    unconfirmed--;
    failures.push(err);
  };
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * plan.ratePerSec) / 1000));
      for (; next < due && unconfirmed < plan.maxUnconfirmed; next++) {
        while (h < held.length && held[h]!.below <= next) h++;
        unconfirmed++;
        let body: Uint8Array;
        if (h < held.length) {
          heldBack++;
          body = stampedBody(plan.bodyBytes, filler, held[h]!.at);
        } else {
          body = stampedBody(plan.bodyBytes, filler);
        }
        plan.producer.send(plan.queue, [body]).then(confirmed, failed);
      }
      if (next < due && (held.length === 0 || held[held.length - 1]!.below < due)) held.push({ below: due, at: stampNow() });
      if (next >= total || performance.now() - start > plan.durationMs * 2) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  if (failures.length > 0) throw new Error(`${failures.length} sends failed: ${String(failures[0])}`);
  return { sent: next, heldBack, unsent: total - next };
}
