/**
 * A broker's memory as the kernel sees it: VmRSS (resident now) and VmHWM (the resident peak) from
 * /proc/PID/status. The broker's worker threads share its process, so one PID counts them all; a
 * broker of several processes is summed. Also the file-descriptor limit the idle-clients scenario
 * needs, and the least-squares slope of RSS over what the broker holds.
 */
import { readFileSync } from 'node:fs';

export interface MemoryUse {
  rssBytes: number;
  /** The resident peak since the process started. */
  hwmBytes: number;
}

/** VmRSS and VmHWM of a /proc/PID/status text, or undefined when either is missing. */
export function parseProcStatus(text: string): MemoryUse | undefined {
  const kb = (field: string): number | undefined => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m === null ? undefined : Number(m[1]) * 1024;
  };
  const rssBytes = kb('VmRSS');
  const hwmBytes = kb('VmHWM');
  return rssBytes === undefined || hwmBytes === undefined ? undefined : { rssBytes, hwmBytes };
}

/** Memory of one process, or undefined if it cannot be read (gone, not Linux). */
export function memoryOf(pid: number): MemoryUse | undefined {
  try {
    return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The sum over a broker's processes, or undefined when there are none or one cannot be read. */
export function memoryOfAll(pids: readonly number[]): MemoryUse | undefined {
  if (pids.length === 0) return undefined;
  const total: MemoryUse = { rssBytes: 0, hwmBytes: 0 };
  for (const pid of pids) {
    const m = memoryOf(pid);
    if (m === undefined) return undefined;
    total.rssBytes += m.rssBytes;
    total.hwmBytes += m.hwmBytes;
  }
  return total;
}

/** The soft "Max open files" of a /proc/PID/limits text. */
export function parseOpenFilesLimit(text: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(text);
  if (m === null) return undefined;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** This process's soft limit on open files (Node cannot raise it; the shell's `ulimit -n` can). */
export function openFilesLimit(): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}

export interface MemorySample {
  /** Messages queued or connections open when the sample was taken. */
  count: number;
  rssBytes: number;
}

/** Least-squares slope of RSS over count (bytes per unit), or undefined with fewer than 2 distinct counts. */
export function slope(samples: readonly MemorySample[]): number | undefined {
  const n = samples.length;
  if (n < 2) return undefined;
  let sx = 0;
  let sy = 0;
  for (const s of samples) {
    sx += s.count;
    sy += s.rssBytes;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.count - mx) * (s.rssBytes - my);
    den += (s.count - mx) ** 2;
  }
  return den === 0 ? undefined : num / den;
}

export const MB = 1024 * 1024;
