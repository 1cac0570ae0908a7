/**
 * `node dist/loadtest/profile.js FILE.cpuprofile… [--top N]`: where the CPU went in V8 profiles
 * written by `node --cpu-prof` (e.g. FERRY_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" for the
 * broker under `npm run bench`). Prints self time by area (our modules, cbor-x, uWS, RocksDB, the
 * worker-thread channel, GC, idle) and the top functions by self time.
 *
 * `--from S --to S` keeps only the samples between those seconds, counted from the earliest start
 * among the files given (the profiles of one process share a clock, so the main thread and its
 * workers are cut at the same moment): a scenario's measured phase without its setup and teardown.
 * `--timeline` prints each file's busy milliseconds per second, to find that phase.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Area of a frame, from its script URL and name. */
export function areaOf(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(program)') return 'program (native, unattributed)';
  if (url.includes('cbor-x')) return 'cbor-x';
  if (url.includes('uWebSockets') || url.includes('uws')) return 'uWS';
  if (url.includes('rocksdb')) return 'rocksdb (js binding)';
  if (url.includes('prom-client')) return 'prom-client';
  if (url.includes('/ws/')) return 'ws (client)';
  if (url.includes('pino')) return 'pino';
  const m = /\/dist\/(src\/[^/]+|loadtest)\//.exec(url);
  if (m !== null) return m[1]!;
  if (url.startsWith('node:') || url === '') return fn.startsWith('(') ? fn : `node internals${url ? '' : ' / native'}`;
  return 'other js';
}

/** Sample times in µs on the profile's clock (timeDeltas are gaps between consecutive samples). */
function sampleTimes(profile: CpuProfile): number[] {
  const times = new Array<number>(profile.samples.length);
  let t = profile.startTime;
  for (let i = 0; i < times.length; i++) times[i] = t += profile.timeDeltas[i] ?? 0;
  return times;
}

/** Self time by area and by function; only samples in [fromUs, toUs) of the profile's clock when given. */
export function summarize(profile: CpuProfile, fromUs = -Infinity, toUs = Infinity): { totalMs: number; areas: Map<string, number>; functions: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const times = sampleTimes(profile);
  for (let i = 0; i < profile.samples.length; i++) {
    if (times[i]! < fromUs || times[i]! >= toUs) continue;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${url ? `${basename(url)}:${lineNumber + 1}` : ''}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + us);
    total += us;
  }
  return { totalMs: total / 1000, areas, functions };
}

/** Busy (non-idle) milliseconds in each whole second since `originUs`. */
function timeline(profile: CpuProfile, originUs: number): number[] {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const times = sampleTimes(profile);
  const busy: number[] = [];
  for (let i = 0; i < profile.samples.length; i++) {
    if (idle.has(profile.samples[i]!)) continue;
    const s = Math.floor((times[i]! - originUs) / 1e6);
    if (s >= 0) busy[s] = (busy[s] ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000;
  }
  return Array.from(busy, (ms) => Math.round(ms ?? 0));
}

function main(): void {
  const argv = process.argv.slice(2);
  const valueOf = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const top = valueOf('--top') ?? 25;
  const withValue = new Set(['--top', '--from', '--to'].map((f) => argv.indexOf(f) + 1).filter((i) => i > 0));
  const files = argv.filter((a, i) => !a.startsWith('--') && !withValue.has(i));
  if (files.length === 0) {
    process.stderr.write('usage: node dist/loadtest/profile.js FILE.cpuprofile… [--top N] [--from S --to S] [--timeline]\n');
    process.exit(2);
  }
  const profiles = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as CpuProfile);
  const origin = Math.min(...profiles.map((p) => p.startTime));
  const fromUs = origin + (valueOf('--from') ?? -Infinity) * 1e6;
  const toUs = origin + (valueOf('--to') ?? Infinity) * 1e6;
  for (const [k, file] of files.entries()) {
    if (argv.includes('--timeline')) {
      process.stdout.write(`== ${basename(file)}: busy ms per second since the first start\n${timeline(profiles[k]!, origin).join(' ')}\n`);
      continue;
    }
    const { totalMs, areas, functions } = summarize(profiles[k]!, fromUs, toUs);
    const busy = totalMs - (areas.get('idle') ?? 0) / 1000;
    const lines = [`== ${basename(file)}: ${totalMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy`, '-- self time by area (% of busy)'];
    for (const [area, us] of [...areas].sort((a, b) => b[1] - a[1])) {
      if (area === 'idle') continue;
      lines.push(`${((us / 1000 / busy) * 100).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${area}`);
    }
    lines.push(`-- top ${top} functions by self time`);
    for (const [fn, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      if (fn.startsWith('(idle)')) continue;
      lines.push(`${((us / 1000 / busy) * 100).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${fn}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

if (process.argv[1] !== undefined && process.argv[1].endsWith('profile.js')) main();
