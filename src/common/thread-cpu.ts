/**
 * CPU time by thread, from Linux's /proc (proc(5): /proc/PID/stat, /proc/PID/task/TID/stat,
 * /proc/thread-self). A broker's CPU is spread over its main thread, one worker per shard, one WAL
 * syncer per shard, RocksDB's flush and compaction threads and V8's helper threads (garbage
 * collection, compilation); which of them a load costs says where to look (issue 5: the broker
 * CPU-seconds per 100k messages, broken down). Elsewhere than Linux every function here answers
 * undefined and callers report nothing.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

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
export function processCpuSeconds(pid: number): number | undefined {
  return readStat(`/proc/${pid}/stat`)?.seconds;
}

/**
 * Names the calling thread in the kernel (proc(5): /proc/thread-self/comm, at most 15 bytes), so
 * that `top -H`, `ps -T`, perf and this module tell a broker's threads apart: Node names none of
 * its worker threads. Best effort: false where it cannot (not Linux).
 */
export function nameThisThread(name: string): boolean {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
    return true;
  } catch {
    return false;
  }
}

/** Kernel names of a shard's worker and WAL syncer threads (nameThisThread), and the roles they report as. */
export const shardThreadName = (shard: number): string => `ferry-shard-${shard}`;
export const syncerThreadName = (shard: number): string => `ferry-sync-${shard}`;
const SHARD_THREAD = /^ferry-shard-(\d+)$/;
const SYNCER_THREAD = /^ferry-sync-(\d+)$/;

/** Each live thread of a process by kernel thread id, with its name and CPU seconds; undefined where unknown. */
export function processThreads(pid: number): Map<number, StatTimes> | undefined {
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

/** The role of the CPU left over: threads without one, and threads that have ended. */
const OTHER_THREADS = 'other';

/**
 * The role a broker thread's CPU is reported under: `main` (the thread whose id is the process's),
 * `shard-N` and `syncer-N` (named by nameThisThread), `rocksdb` (RocksDB's flush and compaction
 * threads name themselves `rocksdb:…`), or undefined for the rest (V8's helpers, libuv's pool).
 */
export function threadRole(pid: number, tid: number, name: string): string | undefined {
  if (tid === pid) return 'main';
  const shard = SHARD_THREAD.exec(name);
  if (shard !== null) return `shard-${shard[1]}`;
  const syncer = SYNCER_THREAD.exec(name);
  if (syncer !== null) return `syncer-${syncer[1]}`;
  return name.startsWith('rocksdb') ? 'rocksdb' : undefined;
}

/**
 * A process's CPU seconds by thread role (threadRole); the rest of `total` (threads without a role,
 * and every thread that has ended, e.g. a shard restarted after a crash) is OTHER_THREADS, so the
 * parts add up to the process's CPU.
 */
export function cpuByRole(pid: number, threads: ReadonlyMap<number, StatTimes>, total: number): Map<string, number> {
  const out = new Map<string, number>();
  let named = 0;
  for (const [tid, t] of threads) {
    const role = threadRole(pid, tid, t.name);
    if (role === undefined) continue;
    out.set(role, (out.get(role) ?? 0) + t.seconds);
    named += t.seconds;
  }
  // /proc rounds each thread to a tick: the rest is never below zero.
  out.set(OTHER_THREADS, Math.max(0, total - named));
  return out;
}

/** cpuByRole of a live process read from /proc now, or undefined where it cannot be read. */
export function processCpuByRole(pid: number): Map<string, number> | undefined {
  const threads = processThreads(pid);
  const total = processCpuSeconds(pid);
  return threads === undefined || total === undefined ? undefined : cpuByRole(pid, threads, total);
}
