/**
 * Before a scenario starts, wait until the broker's processes have gone quiet, so that a scenario
 * does not pay for background work the previous one left behind: measured here, Ferry's
 * queues-10k cost 1.49-1.99 broker CPU-s per 100k right after `large` (RocksDB flushing and
 * compacting ~200 MB of 64 KiB bodies) against 1.17-1.24 alone (loadtest/analysis.md, sixth
 * session). The same rule for every broker: its server processes' CPU over a window, from /proc.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CpuMeter } from './cpu.js';

export interface SettleOptions {
  /** Quiet means at most this share of one core over a window. */
  quietCores: number;
  windowMs: number;
  /** Give up (and start anyway) after this long. */
  maxMs: number;
}

export const SETTLE: SettleOptions = { quietCores: 0.1, windowMs: 500, maxMs: 20_000 };
/** --smoke: the same rule, bounded to keep the smoke run a few seconds. */
export const SMOKE_SETTLE: SettleOptions = { ...SETTLE, maxMs: 2000 };

export interface Settled {
  /** False when the broker was still busy at maxMs, or its CPU could not be read. */
  quiet: boolean;
  waitedMs: number;
  /** Cores used in the last window (undefined when unreadable). */
  lastCores: number | undefined;
}

/**
 * Waits window by window until one window's CPU is at most `quietCores`. `startMeter` starts a
 * meter of the broker's processes for one window (cpu.ts's CpuMeter; its `elapsed()` is undefined
 * when they cannot be read, e.g. no process); `wait` sleeps.
 */
export async function settle(startMeter: () => Pick<CpuMeter, 'elapsed'>, opts: SettleOptions = SETTLE, wait: (ms: number) => Promise<unknown> = sleep): Promise<Settled> {
  let waitedMs = 0;
  let lastCores: number | undefined;
  while (waitedMs < opts.maxMs) {
    const meter = startMeter();
    if (meter.elapsed() === undefined) return { quiet: false, waitedMs, lastCores };
    await wait(opts.windowMs);
    waitedMs += opts.windowMs;
    const used = meter.elapsed();
    if (used === undefined) return { quiet: false, waitedMs, lastCores };
    lastCores = used / (opts.windowMs / 1000);
    if (lastCores <= opts.quietCores) return { quiet: true, waitedMs, lastCores };
  }
  return { quiet: false, waitedMs, lastCores };
}
