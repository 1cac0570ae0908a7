/** Broker CPU time from /proc: utime + stime of a process (all its threads), in seconds; Ferry's also by thread. */
import { processCpuByRole, processCpuSeconds } from '../src/common/thread-cpu.js';
import { increases } from './increases.js';

/** Measures CPU seconds of a set of processes across a phase. */
export class CpuMeter {
  readonly #start: Map<number, number>;
  constructor(readonly pids: readonly number[]) {
    this.#start = new Map();
    for (const pid of pids) {
      const s = processCpuSeconds(pid);
      if (s !== undefined) this.#start.set(pid, s);
    }
  }

  /** CPU seconds used since construction, or undefined when no process could be read. */
  elapsed(): number | undefined {
    if (this.#start.size === 0) return undefined;
    let total = 0;
    for (const [pid, s0] of this.#start) {
      const s1 = processCpuSeconds(pid);
      if (s1 === undefined) return undefined;
      total += s1 - s0;
    }
    return total;
  }
}

/**
 * Measures a Ferry broker's CPU seconds by thread role (src/common/thread-cpu.ts: main, shard-N,
 * syncer-N, rocksdb, other) across a phase, from /proc like CpuMeter: read by the harness at the
 * phase's edges, not scraped, so the scrape's own work is not counted.
 */
export class ThreadCpuMeter {
  readonly #start: Map<string, number> | undefined;
  constructor(readonly pid: number) {
    this.#start = processCpuByRole(pid);
  }

  /**
   * Seconds each role used since construction (a role that used none is left out, and so is one
   * whose count went down: a shard restarted meanwhile), or undefined when /proc could not be read.
   */
  elapsed(): Record<string, number> | undefined {
    const end = processCpuByRole(this.pid);
    return this.#start === undefined || end === undefined ? undefined : increases(this.#start, end);
  }
}
