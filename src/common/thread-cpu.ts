/**
 * CPU time by thread, from Linux's /proc (proc(5): /proc/PID/stat, /proc/PID/task/TID/stat,
 * /proc/thread-self). A broker's CPU is spread over its main thread, one worker per shard, one WAL
 * syncer per shard, RocksDB's flush and compaction threads and V8's helper threads (garbage
 * collection, compilation); which of them a load costs says where to look (issue 5: the broker
 * CPU-seconds per 100k messages, broken down). Elsewhere than Linux every function here answers
 * undefined and callers report nothing.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc stat times (USER_HZ: 100 on Linux x86-64 and arm64). */
const TICKS_PER_SECOND = 100;

/** What a stat line says: the thread's (or process's) name and its user + system CPU seconds. */
export interface StatTimes {
  name: string;
  seconds: number;
}

/**
 * Parses one /proc/.../stat line, or undefined when it is not one. Field 2 (the name) is in
 * parentheses and may itself contain spaces and parentheses: the fields after it are counted from
 * its last closing parenthesis (utime and stime are fields 14 and 15).
 */
export function parseStat(line: string): StatTimes | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = line.slice(close + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (fields.length < 13 || !Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { name: line.slice(open + 1, close), seconds: (utime + stime) / TICKS_PER_SECOND };
}

function readStat(path: string): StatTimes | undefined {
  try {
    return parseStat(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // gone (a thread or process that ended), or not Linux
  }
}

/** CPU seconds a process has used, all its threads (ended ones included), or undefined. */
export function processCpuSeconds(pid: number | 'self' = 'self'): number | undefined {
  return readStat(`/proc/${pid}/stat`)?.seconds;
}

/** The calling thread's kernel thread id (what /proc/PID/task lists), or undefined where unknown. */
export function osThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isSafeInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** Each live thread of a process by kernel thread id, with its name and CPU seconds; undefined where unknown. */
export function processThreads(pid: number | 'self' = 'self'): Map<number, StatTimes> | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const out = new Map<number, StatTimes>();
  for (const tid of tids) {
    const stat = readStat(`/proc/${pid}/task/${tid}/stat`);
    if (stat !== undefined) out.set(Number(tid), stat);
  }
  return out;
}

/** Name of the CPU left over: threads without a role, and threads that have ended. */
export const OTHER_THREADS = 'other';
/** Name of RocksDB's own background threads (flush, compaction), which name themselves `rocksdb:…`. */
export const STORAGE_THREADS = 'rocksdb';

/**
 * A process's CPU seconds by thread role. `roles` names threads by kernel id (the main thread,
 * each shard, each syncer); RocksDB's threads are found by their name; the rest of `total` (V8's
 * helpers, libuv's pool, and every thread that has ended, e.g. a shard restarted after a crash) is
 * OTHER_THREADS, so the parts add up to the process's CPU.
 */
export function cpuByRole(threads: ReadonlyMap<number, StatTimes>, roles: ReadonlyMap<number, string>, total: number): Map<string, number> {
  const out = new Map<string, number>();
  let named = 0;
  for (const [tid, t] of threads) {
    const role = roles.get(tid) ?? (t.name.startsWith('rocksdb') ? STORAGE_THREADS : undefined);
    if (role === undefined) continue;
    out.set(role, (out.get(role) ?? 0) + t.seconds);
    named += t.seconds;
  }
  // /proc rounds each thread to a tick: the rest is never below zero.
  out.set(OTHER_THREADS, Math.max(0, total - named));
  return out;
}
