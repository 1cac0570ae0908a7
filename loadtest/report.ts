/**
 * RESULTS.md from the raw runs: per scenario, each broker's median with min–max over the
 * repetitions, broker CPU per 100k messages, and Ferry's ratio to each peer. The hand-written
 * profile notes in loadtest/analysis.md ("What bounds it") are appended as they are.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FerryView } from './ferry-metrics.js';
import { brokerLabel, isFloor } from './floor-process.js';
import type { Percentiles } from './histogram.js';
import type { Measurement, MemoryFigures, Scenario, Sizes } from './scenarios.js';

export interface RunRecord {
  scenario: string;
  broker: string;
  rep: number;
  status: 'ok' | 'skipped' | 'unsupported' | 'failed';
  reason?: string;
  wallSeconds?: number;
  measurement?: Measurement;
}

export interface BenchResults {
  command: string;
  date: string;
  smoke: boolean;
  reps: number;
  shards: number;
  machine: { cpus: number; cpuModel: string; kernel: string; node: string; loadAvgStart?: number; loadAvgEnd?: number };
  versions: Record<string, string>;
  sizes: Sizes;
  scenarios: Array<{ id: string; title: string; kind: Scenario['kind']; once?: boolean }>;
  runs: RunRecord[];
  /** Remarks about the run added by whoever made it (shown under the header). */
  notes?: string[];
}

const ANALYSIS = fileURLToPath(new URL('../../loadtest/analysis.md', import.meta.url));
/** Hand-written notes on the memory scenarios ("Memory"), appended after the analysis. */
const MEMORY_NOTES = fileURLToPath(new URL('../../loadtest/memory.md', import.meta.url));

/** Issue 5's targets for Ferry, by scenario. */
const TARGETS: Record<string, string> = {
  'publish-1': '≥ 80,000 msg/s',
  'publish-16': '≥ 100,000 msg/s',
  'consume-1': '≥ 120,000 msg/s',
  'consume-16': '≥ 150,000 msg/s',
  latency: 'p50 ≤ 0.5, p99 ≤ 3, p99.9 ≤ 8 ms',
  isolation: 'p99 beside ≤ 2× p99 alone',
  'queues-10k': '≥ 80% of publish-16',
  'memory-queued': 'RSS ≤ 500 MB with 10 million',
  'memory-idle': 'RSS ≤ 300 MB with 10,000',
};

const mib = (bytes: number): string => (bytes / 1048576).toFixed(0);

function memoryTable(r: BenchResults, id: string, med: Median): string[] {
  const rows = [
    '| broker | held | RSS idle, MB | RSS held, MB, median (min–max) | peak RSS (VmHWM), MB | RSS growth per item, bytes | fill rate | after a restart: ready in, RSS (peak), MB |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const b of brokersOf(r)) {
    const runs = okRuns(r, id, b).filter((m) => m.memory !== undefined);
    if (runs.length === 0) {
      rows.push(`| ${brokerLabel(b)} | ${statusOf(r, id, b) || 'no run'} | | | | | | |`);
      continue;
    }
    const mem = runs.map((m) => m.memory!);
    const per = mem.map((m) => m.bytesPerUnit).filter((x): x is number => x !== undefined);
    rows.push(`| ${brokerLabel(b)} | ${int(Math.min(...mem.map((m) => m.count)))} ${mem[0]!.unit} | ${spread(mem.map((m) => m.baseline.rssBytes), med, mib)} | ${spread(mem.map((m) => m.held.rssBytes), med, mib)} | ${spread(mem.map((m) => m.held.hwmBytes), med, mib)} | ${per.length > 0 ? spread(per, med, int) : 'n/a'} | ${int(med(runs.map((m) => m.msgsPerSec)))}/s | ${restarts(mem, med)} |`);
  }
  return rows;
}

type Median = (xs: number[]) => number;

function restarts(mem: readonly MemoryFigures[], med: Median): string {
  const r = mem.map((m) => m.restart).filter((x) => x !== undefined);
  if (r.length === 0) return '—';
  return `${spread(r.map((x) => x.readySeconds), med, (n) => `${n.toFixed(1)} s`)}, ${spread(r.map((x) => x.held.rssBytes), med, mib)} (${spread(r.map((x) => x.held.hwmBytes), med, mib)}), ${int(Math.min(...r.map((x) => x.count)))} held`;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function spread(xs: number[], med: Median, fmt: (n: number) => string): string {
  if (xs.length === 1) return fmt(xs[0]!);
  return `${fmt(med(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
}

function okRuns(r: BenchResults, scenario: string, broker: string): Measurement[] {
  return r.runs.filter((x) => x.scenario === scenario && x.broker === broker && x.status === 'ok').map((x) => x.measurement!);
}

function statusOf(r: BenchResults, scenario: string, broker: string): string {
  const runs = r.runs.filter((x) => x.scenario === scenario && x.broker === broker);
  const bad = runs.find((x) => x.status !== 'ok');
  if (bad === undefined) return '';
  return `${bad.status}${bad.reason ? `: ${bad.reason.split('\n')[0]!.slice(0, 160)}` : ''}`;
}

function brokersOf(r: BenchResults): string[] {
  return [...new Set(r.runs.map((x) => x.broker))];
}

function lat(ms0: Measurement[], pick: (m: Measurement) => Percentiles | undefined, key: keyof Percentiles): number[] {
  return ms0.map(pick).filter((p): p is Percentiles => p !== undefined).map((p) => p[key]);
}

/**
 * The CPU ceiling of a throughput run: the rate at which the broker and the load generator
 * together would keep every core of the machine busy, at their measured CPU per message. A run
 * well below it was bound by something other than CPU (a round trip, a sync, a lock); a run
 * near it was bound by the cores.
 */
export function cpuCeiling(cores: number, brokerPer100k: number, loadGenPer100k: number): number | undefined {
  const per100k = brokerPer100k + loadGenPer100k;
  return per100k > 0 ? (cores * 100_000) / per100k : undefined;
}

function throughputTable(r: BenchResults, id: string, med: Median): string[] {
  const rows = [
    `| broker | msg/s, median (min–max) | broker CPU s / 100k msgs | load generator CPU s / 100k msgs | CPU ceiling on ${r.machine.cpus} cores, msg/s | Ferry ÷ broker |`,
    '|---|---|---|---|---|---|',
  ];
  const ferry = okRuns(r, id, 'ferry').map((m) => m.msgsPerSec);
  const ferryMed = ferry.length > 0 ? med(ferry) : undefined;
  for (const b of brokersOf(r)) {
    const runs = okRuns(r, id, b);
    if (runs.length === 0) {
      rows.push(`| ${brokerLabel(b)} | ${statusOf(r, id, b) || 'no run'} | | | | |`);
      continue;
    }
    const rates = runs.map((m) => m.msgsPerSec);
    const cpu = runs.map((m) => m.cpuPer100k).filter((c): c is number => c !== undefined);
    const gen = runs.map((m) => m.loadGenCpuPer100k).filter((c): c is number => c !== undefined);
    const ceilings = runs
      .map((m) => (m.cpuPer100k === undefined || m.loadGenCpuPer100k === undefined ? undefined : cpuCeiling(r.machine.cpus, m.cpuPer100k, m.loadGenCpuPer100k)))
      .filter((c): c is number => c !== undefined);
    const ratio = b !== 'ferry' && ferryMed !== undefined ? `${(ferryMed / med(rates)).toFixed(2)}×` : '';
    const bounded = runs.some((m) => m.timeBounded) ? ' ⏱' : '';
    const cell = (xs: number[], fmt: (n: number) => string): string => (xs.length > 0 ? spread(xs, med, fmt) : 'n/a');
    rows.push(`| ${brokerLabel(b)} | ${spread(rates, med, int)}${bounded} | ${cell(cpu, (n) => n.toFixed(2))} | ${cell(gen, (n) => n.toFixed(2))} | ${cell(ceilings, int)} | ${ratio} |`);
  }
  return rows;
}

function latencyTable(r: BenchResults, id: string, med: Median): string[] {
  const rows = ['| broker | p50 ms | p99 ms | p99.9 ms | max ms | broker CPU s / 100k msgs | Ferry p99 ÷ broker p99 |', '|---|---|---|---|---|---|---|'];
  const ferryP99 = lat(okRuns(r, id, 'ferry'), (m) => m.latency, 'p99');
  for (const b of brokersOf(r)) {
    const runs = okRuns(r, id, b);
    if (runs.length === 0) {
      rows.push(`| ${brokerLabel(b)} | ${statusOf(r, id, b) || 'no run'} | | | | | | |`);
      continue;
    }
    const get = (k: keyof Percentiles): string => spread(lat(runs, (m) => m.latency, k), med, ms);
    const cpu = runs.map((m) => m.cpuPer100k).filter((c): c is number => c !== undefined);
    const p99 = lat(runs, (m) => m.latency, 'p99');
    const ratio = b !== 'ferry' && ferryP99.length > 0 ? `${(med(ferryP99) / med(p99)).toFixed(2)}×` : '';
    rows.push(`| ${brokerLabel(b)} | ${get('p50')} | ${get('p99')} | ${get('p999')} | ${get('max')} | ${cpu.length > 0 ? spread(cpu, med, (n) => n.toFixed(2)) : 'n/a'} | ${ratio} |`);
  }
  return [...rows, ...heldBackLine(r, id)];
}

/**
 * Under a latency or isolation table: how many sends each broker's runs held back because 1,000
 * were unconfirmed (load.ts publishAtRate: sent late, their latency counted from when they were
 * held), so a broker whose figures include such waits is seen as one. Nothing when none was held back.
 */
export function heldBackLine(r: BenchResults, id: string): string[] {
  const counts = brokersOf(r).map((b) => ({ b, runs: okRuns(r, id, b) })).filter((x) => x.runs.some((m) => m.heldBack !== undefined));
  if (!counts.some((x) => x.runs.some((m) => (m.heldBack ?? 0) > 0))) return [];
  const parts = counts.map(({ b, runs }) => `${b} ${int(runs.reduce((sum, m) => sum + (m.heldBack ?? 0), 0))}`);
  return ['', `Sends held back by the 1,000-unconfirmed window, then sent and counted from when they were held (all repetitions): ${parts.join(', ')}.`];
}

function isolationTable(r: BenchResults, id: string, med: Median): string[] {
  const rows = ['| broker | light p99 alone, ms | light p99 beside a saturated queue, ms | ratio | saturating load |', '|---|---|---|---|---|'];
  for (const b of brokersOf(r)) {
    const runs = okRuns(r, id, b);
    if (runs.length === 0) {
      rows.push(`| ${brokerLabel(b)} | ${statusOf(r, id, b) || 'no run'} | | | |`);
      continue;
    }
    const alone = lat(runs, (m) => m.latencyAlone, 'p99');
    const beside = lat(runs, (m) => m.latency, 'p99');
    rows.push(`| ${brokerLabel(b)} | ${spread(alone, med, ms)} | ${spread(beside, med, ms)} | ${(med(beside) / med(alone)).toFixed(2)}× | ${int(med(runs.map((m) => m.msgsPerSec)))} msg/s |`);
  }
  return [...rows, ...heldBackLine(r, id)];
}

/**
 * Under a table (or the summary, `scenario` undefined) where a floor ran: what a floor is, so
 * that nobody reads it as a peer. Nothing when no floor ran.
 */
export function floorNote(r: BenchResults, scenario?: string): string[] {
  const floors = brokersOf(r).filter((b) => isFloor(b) && (scenario === undefined || r.runs.some((x) => x.broker === b && x.scenario === scenario)));
  if (floors.length === 0) return [];
  const durability = scenario === undefined ? ' floor-4-sync confirms after an fdatasync; floor-2 and floor-4 keep messages in memory only.' : '';
  return ['', `${floors.join(', ')}: floors, not peers: Ferry's thread shape without its logic (loadtest/floor-server.ts; loadtest/README.md "Floors"), the least that shape costs on this machine; "Ferry ÷ broker" against a floor is Ferry's distance from it.${durability}`];
}

function ferryViewRows(r: BenchResults): string[] {
  const rows = ['| scenario | op | requests | mean ms | p50 ≤ ms | p99 ≤ ms | messages (event: count) |', '|---|---|---|---|---|---|---|'];
  for (const s of r.scenarios) {
    const run = r.runs.find((x) => x.scenario === s.id && x.broker === 'ferry' && x.status === 'ok' && x.measurement?.ferry !== undefined);
    const view: FerryView | undefined = run?.measurement?.ferry;
    if (view === undefined) continue;
    const msgs = Object.entries(view.messages).map(([e, n]) => `${e}: ${int(n)}`).join(', ');
    const ops = Object.entries(view.ops).sort((a, b) => b[1].requests - a[1].requests);
    ops.forEach(([op, v], i) => {
      rows.push(`| ${i === 0 ? s.id : ''} | ${op} | ${int(v.requests)} | ${v.meanMs.toFixed(2)} | ${v.p50LeMs} | ${v.p99LeMs} | ${i === 0 ? msgs : ''} |`);
    });
  }
  return rows;
}

/** Thread groups of ferry_thread_cpu_seconds_total, in table order: a label's group is its name up to a `-N` suffix. */
const THREAD_GROUPS = [
  ['main', 'main'], ['shard', 'shards'], ['syncer', 'WAL syncers'], ['rocksdb', 'RocksDB flush + compaction'], ['other', 'other (V8 GC and compiler, libuv)'],
] as const;

/** Sums a view's thread CPU by group (shard-0 and shard-1 are `shard`). */
export function threadGroups(threads: Readonly<Record<string, number>>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [thread, seconds] of Object.entries(threads)) {
    const group = thread.replace(/-\d+$/, '');
    out.set(group, (out.get(group) ?? 0) + seconds);
  }
  return out;
}

/** Ferry's broker CPU per message by thread, for the throughput scenarios (first repetition). */
function threadCpuRows(r: BenchResults): string[] {
  const rows = [`| scenario | ${THREAD_GROUPS.map(([, title]) => title).join(' | ')} | all |`, `|---|${THREAD_GROUPS.map(() => '---|').join('')}---|`];
  for (const s of r.scenarios.filter((x) => x.kind === 'throughput')) {
    const m = okRuns(r, s.id, 'ferry').find((x) => x.threadCpu !== undefined);
    if (m === undefined || m.messages <= 0) continue;
    const groups = threadGroups(m.threadCpu!);
    const us = (seconds: number): string => ((seconds / m.messages) * 1e6).toFixed(2);
    const all = [...groups.values()].reduce((a, b) => a + b, 0);
    rows.push(`| ${s.id} | ${THREAD_GROUPS.map(([group]) => us(groups.get(group) ?? 0)).join(' | ')} | ${us(all)} |`);
  }
  return rows.length > 2 ? rows : [];
}

function summaryRows(r: BenchResults, med: Median): string[] {
  const rows = ['| scenario | Ferry | best peer here | Ferry target (issue 5) |', '|---|---|---|---|'];
  for (const s of r.scenarios) {
    const ferry = okRuns(r, s.id, 'ferry');
    let ferryText = statusOf(r, s.id, 'ferry') || 'no run';
    let best = '';
    if (ferry.length > 0) {
      if (s.kind === 'throughput') ferryText = `${int(med(ferry.map((m) => m.msgsPerSec)))} msg/s`;
      else if (s.kind === 'memory') {
        const mem = ferry.map((m) => m.memory).filter((m) => m !== undefined);
        ferryText = mem.length === 0 ? 'no figure' : `RSS ${mib(med(mem.map((m) => m.held.rssBytes)))} MB with ${int(mem[0]!.count)} ${mem[0]!.unit} (peak ${mib(med(mem.map((m) => m.held.hwmBytes)))} MB)`;
      } else if (s.kind === 'latency') ferryText = `${['p50', 'p99', 'p999'].map((k) => ms(med(lat(ferry, (m) => m.latency, k as keyof Percentiles)))).join(' / ')} ms`;
      else {
        const a = med(lat(ferry, (m) => m.latencyAlone, 'p99'));
        const b = med(lat(ferry, (m) => m.latency, 'p99'));
        ferryText = `p99 ${ms(a)} → ${ms(b)} ms (${(b / a).toFixed(2)}×)`;
      }
    }
    if (s.id === 'queues-10k' && ferry.length > 0) {
      const p16 = okRuns(r, 'publish-16', 'ferry');
      if (p16.length > 0) ferryText += ` (${((med(ferry.map((m) => m.msgsPerSec)) / med(p16.map((m) => m.msgsPerSec))) * 100).toFixed(0)}% of publish-16)`;
    }
    // A floor is not a peer: never the best peer.
    for (const b of brokersOf(r).filter((x) => x !== 'ferry' && !isFloor(x))) {
      const runs = okRuns(r, s.id, b);
      if (runs.length === 0) continue;
      if (s.kind === 'memory') {
        const v = med(runs.map((m) => m.memory?.held.rssBytes ?? Infinity));
        const cur = /^RSS (\d+) MB/.exec(best)?.[1];
        if (Number.isFinite(v) && (cur === undefined || v / 1048576 < Number(cur))) best = `RSS ${mib(v)} MB (${b})`;
      } else if (s.kind === 'throughput') {
        const v = med(runs.map((m) => m.msgsPerSec));
        const cur = /^([\d,]+)/.exec(best)?.[1];
        if (cur === undefined || v > Number(cur.replace(/,/g, ''))) best = `${int(v)} msg/s (${b})`;
      } else if (s.kind === 'latency') {
        const p99 = med(lat(runs, (m) => m.latency, 'p99'));
        const cur = /p99 ([\d.]+)/.exec(best)?.[1];
        if (cur === undefined || p99 < Number(cur)) best = `p99 ${ms(p99)} ms, p50 ${ms(med(lat(runs, (m) => m.latency, 'p50')))} ms (${b})`;
      }
    }
    rows.push(`| ${s.id} | ${ferryText} | ${best || '—'} | ${TARGETS[s.id] ?? '—'} |`);
  }
  return rows;
}

export function renderResults(r: BenchResults, med: Median): string {
  const out: string[] = [];
  out.push(`# Ferry load-test results${r.smoke ? ' (smoke run: tiny counts, not a measurement)' : ''}`, '');
  out.push(`- Command: \`${r.command}\``);
  out.push(`- Date: ${r.date}`);
  out.push(`- Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, Linux ${r.machine.kernel}, Node ${r.machine.node}; Ferry with ${r.shards} shard workers; load generator in one Node process on the same machine, loopback only`);
  if (r.machine.loadAvgStart !== undefined) {
    out.push(`- 1-minute load average at start / end: ${r.machine.loadAvgStart.toFixed(1)} / ${(r.machine.loadAvgEnd ?? 0).toFixed(1)}${r.machine.loadAvgStart > r.machine.cpus ? ' — other processes competed for the cores: figures are low and noisy' : ''}`);
  }
  for (const note of r.notes ?? []) out.push(`- Note: ${note}`);
  out.push(`- Versions: ${Object.entries(r.versions).map(([b, v]) => `${b} ${v}`).join('; ') || 'none reachable'}`);
  const once = r.reps > 1 ? r.scenarios.filter((s) => s.once === true).map((s) => s.id) : [];
  out.push(`- Repetitions: ${r.reps}, interleaved (each repetition runs every scenario on every broker in turn); medians with min–max${once.length > 0 ? `; ${once.join(' and ')} ran once per broker (a peak over minutes of filling, not a rate)` : ''}`);
  out.push(`- Durability: Ferry and RabbitMQ confirm after fsync; NATS 2.9 and Redis (AOF everysec) confirm before the disk sync`);
  out.push(`- Raw runs: \`results.json\` beside this file; plots: \`npm run bench:plot\` (throughput.svg, latency.svg)`);
  out.push('', '## Summary', '', ...summaryRows(r, med), ...floorNote(r), '');
  for (const s of r.scenarios) {
    out.push(`## ${s.id}: ${s.title}`, '');
    if (s.kind === 'throughput') out.push(...throughputTable(r, s.id, med));
    else if (s.kind === 'latency') out.push(...latencyTable(r, s.id, med));
    else if (s.kind === 'memory') out.push(...memoryTable(r, s.id, med));
    else out.push(...isolationTable(r, s.id, med));
    out.push(...floorNote(r, s.id));
    const notes = new Set(r.runs.filter((x) => x.scenario === s.id && x.broker === 'ferry').flatMap((x) => x.measurement?.notes ?? []));
    if (notes.size > 0) out.push('', ...[...notes].slice(0, 3).map((n) => `Ferry note: ${n}`));
    out.push('');
  }
  out.push('⏱ = stopped by its time bound before its message count; the rate is over what was confirmed.', '');
  out.push('## Ferry\'s own view (GET /metrics, first repetition)', '', 'Request duration is measured in the broker from the decoded request to the answer being ready, fsync included.', '', ...ferryViewRows(r), '');
  const threads = threadCpuRows(r);
  if (threads.length > 0) {
    out.push('### Broker CPU by thread, µs per message (first repetition)', '',
      'Where the broker CPU of each throughput scenario went: the main thread (sockets, frames, routing), the shard workers (queue actors, the store, RocksDB writes), their WAL syncers, RocksDB\'s own flush and compaction threads, and the rest (V8\'s garbage collector and compiler threads, libuv). Read from /proc/PID/task at the edges of the measured phase (the threads name themselves; the broker exports the same split as ferry_thread_cpu_seconds_total); /proc counts in 10 ms ticks per thread.', '',
      ...threads, '');
  }
  out.push('## Settings', '', `Counts and bounds: ${JSON.stringify(r.sizes)}.`, '',
    'Every scenario on every broker starts once the broker\'s processes have gone quiet (at most 0.1 of a core over 0.5 s, waiting up to 20 s; a run that started busy says so in a note), so that it does not pay for background work the previous scenario left (loadtest/settle.ts).',
    'Publish: batches of 100 (10 for 64 KiB and 10,000 queues) with 10 batches (100 for 10,000 queues) unconfirmed per producer, so at most 1,000 unconfirmed. Ferry uses sendBatch; RabbitMQ a confirm channel with persistent messages; NATS awaits each PubAck; Redis pipelines XADD.',
    'Consume: queues filled first (not timed), then one consumer per queue with prefetch 1,000 until all are acked. Ferry uses the SDK\'s consume() (push with credit, acks coalesced into deleteReceipts per turn, or up to 2 ms when fewer than 64); RabbitMQ one ack per message; NATS a durable pull consumer, explicit ack, max_ack_pending 1,000; Redis XREADGROUP COUNT 1000 BLOCK 100 and one XACK per batch.',
    'Latency: one producer sends single messages at the fixed rate (a 1 ms pacing tick), stamped on CLOCK_MONOTONIC (loadtest/clock.ts); one consumer (prefetch 1,000) in a worker thread of its own records receive time minus stamp into a log-bucket histogram (< 0.8% error).',
    'Isolation: the light queue\'s latency run at 100 msg/s, first alone, then while 4 producers publish as fast as they can to another queue.',
    'Broker CPU: utime + stime of the broker process (all threads) from /proc/PID/stat, across the measured phase; load generator CPU: the same for the harness\'s own process (every client of the run lives in it). Ferry\'s CPU by thread: the same for each of its threads (/proc/PID/task), by the names the threads give themselves.',
    'CPU ceiling: the machine\'s cores × 100,000 ÷ (broker + load generator CPU seconds per 100k messages), i.e. the rate at which the two together would keep every core busy. A rate near its ceiling was bound by CPU; one far below it by something else (round trips, syncs, locks).', '');
  if (existsSync(ANALYSIS)) out.push(readFileSync(ANALYSIS, 'utf8').trimEnd(), '');
  if (existsSync(MEMORY_NOTES)) out.push(readFileSync(MEMORY_NOTES, 'utf8').trimEnd(), '');
  return out.join('\n');
}

/** `node dist/loadtest/report.js [--in loadtest/results.json]`: renders RESULTS.md again from raw runs. */
function main(): void {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--in');
  const input = i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fileURLToPath(new URL('../../loadtest/results.json', import.meta.url));
  const results = JSON.parse(readFileSync(input, 'utf8')) as BenchResults;
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const out = join(dirname(input), 'RESULTS.md');
  writeFileSync(out, renderResults(results, median));
  process.stderr.write(`wrote ${out}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
