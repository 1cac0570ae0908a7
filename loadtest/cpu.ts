/** Broker CPU time from /proc: utime + stime of a process (all its threads), in seconds. */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times (USER_HZ; 100 on Linux x86-64 and arm64). */
const TICKS_PER_SECOND = 100;

/** CPU seconds the process has used so far, or undefined if it cannot be read (gone, not Linux). */
export function cpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) may contain spaces and parentheses: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / TICKS_PER_SECOND;
}

/** Measures CPU seconds of a set of processes across a phase. */
export class CpuMeter {
  readonly #start: Map<number, number>;
  constructor(readonly pids: readonly number[]) {
    this.#start = new Map();
    for (const pid of pids) {
      const s = cpuSeconds(pid);
      if (s !== undefined) this.#start.set(pid, s);
    }
  }

  /** CPU seconds used since construction, or undefined when no process could be read. */
  elapsed(): number | undefined {
    if (this.#start.size === 0) return undefined;
    let total = 0;
    for (const [pid, s0] of this.#start) {
      const s1 = cpuSeconds(pid);
      if (s1 === undefined) return undefined;
      total += s1 - s0;
    }
    return total;
  }
}
