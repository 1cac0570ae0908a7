/** Broker CPU time from /proc: utime + stime of a process (all its threads), in seconds. */
import { processCpuSeconds } from '../src/common/thread-cpu.js';

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
