/**
 * `npm run bench -- [scenario…] [--brokers ferry,rabbitmq,nats,redis] [--reps N] [--smoke] [--out DIR]`
 *
 * Runs the scenarios against Ferry (a broker process of its own, on a free loopback port over a
 * temporary data directory) and the peers (started by loadtest/peers.sh), interleaved: for each
 * repetition, each scenario, each broker. Writes RESULTS.md (medians with min–max, ratios) and
 * results.json (every run) into --out (default: loadtest/). A peer that is not reachable is
 * reported as skipped. --smoke: Ferry only, tiny counts, a few seconds (CI); written to --out or
 * $TMPDIR/ferry-bench-smoke, never over loadtest/RESULTS.md. The floors (floor-2, floor-4,
 * floor-4-sync: Ferry's thread shape without its logic, floor-server.ts) run only when --brokers
 * names them; each starts its own server process, stopped at the end or on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrokerUnavailable, Unsupported, type BrokerAdapter } from './adapters/adapter.js';
import type { FerryAdapter } from './adapters/ferry.js';
import { ALL_BROKERS, launchFloor, makeAdapter } from './brokers.js';
import { FLOOR_BROKERS, isFloor } from './floor-process.js';
import { FloorAdapter } from './adapters/floor.js';
import { CpuMeter } from './cpu.js';
import { FerryProcess } from './ferry-process.js';
import { Progress } from './progress.js';
import { renderResults, type BenchResults, type RunRecord } from './report.js';
import { CORE, FULL, SCENARIOS, SMOKE, SMOKE_SCENARIOS, type Scenario } from './scenarios.js';
import { settle, SETTLE, SMOKE_SETTLE } from './settle.js';

const LOADTEST_DIR = fileURLToPath(new URL('../../loadtest/', import.meta.url));
const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));

export interface BenchOptions {
  scenarios: string[];
  brokers: string[];
  reps: number;
  smoke: boolean;
  outDir: string;
  /** Ferry shard workers. Default: 2 (the cores of the reference machine). */
  shards: number;
  /** Overrides of the memory scenarios' sizes (--messages, --clients). */
  memoryMessages?: number;
  idleClients?: number;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'Usage';
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const opts: BenchOptions = { scenarios: [], brokers: ALL_BROKERS, reps: 3, smoke: false, outDir: LOADTEST_DIR, shards: 2 };
  let brokersGiven = false;
  let repsGiven = false;
  let outGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--smoke') opts.smoke = true;
    else if (a === '--brokers') {
      brokersGiven = true;
      opts.brokers = value().split(',').flatMap((b) => (b === 'rabbitmq' ? ['rabbitmq-classic', 'rabbitmq-quorum'] : [b]));
      for (const b of opts.brokers) if (!ALL_BROKERS.includes(b) && !isFloor(b)) throw new UsageError(`--brokers: unknown broker ${b} (ferry, rabbitmq, rabbitmq-classic, rabbitmq-quorum, nats, redis; floors: ${FLOOR_BROKERS.join(', ')})`);
    } else if (a === '--reps') {
      repsGiven = true;
      opts.reps = Number(value());
      if (!Number.isInteger(opts.reps) || opts.reps < 1 || opts.reps > 20) throw new UsageError('--reps must be an integer from 1 to 20');
    } else if (a === '--out') {
      outGiven = true;
      opts.outDir = value();
    }
    else if (a === '--shards') {
      opts.shards = Number(value());
      if (!Number.isInteger(opts.shards) || opts.shards < 1 || opts.shards > 64) throw new UsageError('--shards must be an integer from 1 to 64');
    } else if (a === '--messages' || a === '--clients') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 100_000_000) throw new UsageError(`${a} must be an integer from 1 to 100000000`);
      if (a === '--messages') opts.memoryMessages = n;
      else opts.idleClients = n;
    } else if (a === '--help' || a === '-h') throw new UsageError('help');
    else if (a.startsWith('-')) throw new UsageError(`unknown flag ${a}`);
    else {
      if (!SCENARIOS.some((s) => s.id === a)) throw new UsageError(`unknown scenario ${a} (${SCENARIOS.map((s) => s.id).join(', ')})`);
      opts.scenarios.push(a);
    }
  }
  if (opts.smoke) {
    if (!brokersGiven) opts.brokers = ['ferry'];
    if (!repsGiven) opts.reps = 1;
    if (opts.scenarios.length === 0) opts.scenarios = SMOKE_SCENARIOS;
    // Smoke figures are not results: they never replace the recorded side-by-side run.
    if (!outGiven) opts.outDir = join(tmpdir(), 'ferry-bench-smoke');
  }
  if (opts.scenarios.length === 0) opts.scenarios = [...CORE, ...SCENARIOS.map((s) => s.id).filter((id) => !CORE.includes(id))];
  return opts;
}

const USAGE = `usage: npm run bench -- [scenario…] [--brokers ferry,rabbitmq,nats,redis] [--reps N] [--smoke] [--out DIR] [--shards N] [--messages N] [--clients N]
--brokers also takes the floors ${FLOOR_BROKERS.join(', ')} (Ferry's thread shape without its logic; loadtest/README.md), never run by default
--messages: messages memory-queued leaves queued (default 10000000); --clients: connections of memory-idle (default 10000)
scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}
peers: start them first with loadtest/peers.sh start (a peer not running is reported as skipped)`;

function ferryVersion(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as { version: string };
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a git checkout
  }
  return commit ? `${pkg.version} (${commit})` : pkg.version;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function oneLine(r: RunRecord): string {
  if (r.status !== 'ok') return `${r.status}${r.reason ? `: ${r.reason}` : ''}`;
  const m = r.measurement!;
  if (m.memory) return `RSS ${(m.memory.held.rssBytes / 1048576).toFixed(0)} MB with ${m.memory.count.toLocaleString('en-US')} ${m.memory.unit} (peak ${(m.memory.held.hwmBytes / 1048576).toFixed(0)} MB)`;
  if (m.latency) return `p50 ${m.latency.p50.toFixed(2)} ms, p99 ${m.latency.p99.toFixed(2)} ms, p99.9 ${m.latency.p999.toFixed(2)} ms`;
  return `${Math.round(m.msgsPerSec).toLocaleString('en-US')} msg/s`;
}

/**
 * The order of the runs, each on every broker in turn: repetition by repetition, every scenario
 * in each (interleaved, so a slow minute of the machine does not land on one scenario's every
 * run); a scenario marked `once` only in the last repetition. Last, because the memory scenarios
 * can leave a peer unusable: after 10,000 connections, RabbitMQ 3.10 refused every later run with
 * 541 INTERNAL_ERROR (a run of this session, with them in the first repetition).
 */
export function benchPlan<S extends Pick<Scenario, 'once'>>(scenarios: readonly S[], reps: number): Array<{ rep: number; scenario: S }> {
  const plan: Array<{ rep: number; scenario: S }> = [];
  for (let rep = 1; rep <= reps; rep++) {
    for (const scenario of scenarios) if (rep === reps || scenario.once !== true) plan.push({ rep, scenario });
  }
  return plan;
}

export async function runBench(opts: BenchOptions, command: string): Promise<BenchResults> {
  const sizes = { ...(opts.smoke ? SMOKE : FULL) };
  if (opts.memoryMessages !== undefined) sizes.memoryMessages = opts.memoryMessages;
  if (opts.idleClients !== undefined) sizes.idleClients = opts.idleClients;
  const scenarios = opts.scenarios.map((id) => SCENARIOS.find((s) => s.id === id)!) as Scenario[];
  const ferry = new FerryProcess(opts.shards);
  const needFerry = opts.brokers.includes('ferry');
  const runs: RunRecord[] = [];
  const versions: Record<string, string> = {};
  const adapters = new Map<string, BrokerAdapter | string>();
  const plan = benchPlan(scenarios, opts.reps);
  const progress = new Progress(plan.length * opts.brokers.length);
  const started = new Date();
  const loadAvgStart = loadavg()[0]!;
  let runId = 0;
  // Interrupted (Ctrl-C, kill): the broker process and its data directory go too.
  const onSignal = (signal: NodeJS.Signals): void => {
    progress.note(`bench: ${signal}, stopping the Ferry broker and the floors`);
    // A floor's adapter stops the floor server it started (the peers are not ours to stop).
    const floors = [...adapters.values()].filter((a): a is FloorAdapter => a instanceof FloorAdapter);
    void Promise.allSettled([ferry.stop(), ...floors.map((a) => a.close())]).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (needFerry) await ferry.start();
    for (const name of opts.brokers) {
      // A floor's adapter starts its own floor server (loadtest/floor-server.ts) when opened.
      const adapter = isFloor(name) ? launchFloor(name) : makeAdapter(name, ferry.url, () => ferry.pid, ferryVersion());
      try {
        await adapter.open();
        adapters.set(name, adapter);
        versions[name] = adapter.version;
      } catch (err) {
        adapters.set(name, err instanceof BrokerUnavailable ? `not reachable (${err.message})` : `failed to connect: ${(err as Error).message}`);
        progress.note(`${name}: skipped, ${adapters.get(name) as string}`);
      }
    }
    for (const { rep, scenario } of plan) {
      for (const name of opts.brokers) {
        const label = `rep ${rep}/${opts.reps} ${scenario.id} ${name}`;
        progress.step(label);
        const adapter = adapters.get(name)!;
        const applies = scenario.appliesTo(name);
        const record: RunRecord = { scenario: scenario.id, broker: name, rep, status: 'ok' };
        if (typeof adapter === 'string') Object.assign(record, { status: 'skipped', reason: adapter });
        else if (applies !== true) Object.assign(record, { status: 'skipped', reason: applies });
        else {
          const t0 = performance.now();
          try {
            if (scenario.freshBroker === true && name === 'ferry') {
              progress.detail('starting a fresh broker');
              await adapter.close();
              await ferry.restart();
              await adapter.open();
            }
            progress.detail('waiting for the broker to go quiet');
            const settled = await settle(() => new CpuMeter(adapter.serverPids()), opts.smoke ? SMOKE_SETTLE : SETTLE);
            const id = ++runId;
            record.measurement = await scenario.run({
              adapter, sizes, progress: (text) => progress.detail(text),
              names: (n) => Array.from({ length: n }, (_, i) => `bench${process.pid}r${id}-${scenario.id}-${i}`),
              ferry: name === 'ferry' ? {
                httpUrl: ferry.httpUrl,
                get admin() {
                  return (adapter as FerryAdapter).admin;
                },
                async restart(readyTimeoutMs) {
                  await adapter.close();
                  const r = await ferry.restartInPlace(readyTimeoutMs);
                  await adapter.open();
                  return r;
                },
              } : undefined,
              ferryUrl: adapter instanceof FloorAdapter ? adapter.url : ferry.url,
            });
            if (!settled.quiet && settled.lastCores !== undefined) {
              (record.measurement.notes ??= []).push(`started with the broker still busy: ${settled.lastCores.toFixed(2)} cores after ${(settled.waitedMs / 1000).toFixed(1)} s of waiting`);
            }
          } catch (err) {
            Object.assign(record, err instanceof Unsupported ? { status: 'unsupported', reason: err.message } : { status: 'failed', reason: (err as Error).message });
          }
          record.wallSeconds = (performance.now() - t0) / 1000;
        }
        runs.push(record);
        progress.done(`${label}: ${oneLine(record)}`);
      }
    }
  } finally {
    for (const a of adapters.values()) if (typeof a !== 'string') await a.close().catch(() => undefined);
    await ferry.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.finish();
  }
  const results: BenchResults = {
    command, date: started.toISOString(), smoke: opts.smoke, reps: opts.reps, shards: opts.shards,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version, loadAvgStart, loadAvgEnd: loadavg()[0]! },
    versions, sizes, scenarios: scenarios.map((s) => ({ id: s.id, title: s.title, kind: s.kind, ...(s.once === true ? { once: true } : {}) })), runs,
  };
  mkdirSync(opts.outDir, { recursive: true });
  writeFileSync(join(opts.outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(join(opts.outDir, 'RESULTS.md'), renderResults(results, median));
  return results;
}

async function main(): Promise<void> {
  let opts: BenchOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message === 'help' ? '' : `bench: ${err.message}\n`}${USAGE}\n`);
      process.exit(err.message === 'help' ? 0 : 2);
    }
    throw err;
  }
  const command = `npm run bench --${process.argv.slice(2).map((a) => ` ${a}`).join('')}`;
  const results = await runBench(opts, command);
  const failed = results.runs.filter((r) => r.status === 'failed');
  process.stderr.write(`wrote ${join(opts.outDir, 'RESULTS.md')} and results.json (${results.runs.length} runs, ${failed.length} failed)\n`);
  process.exit(failed.length > 0 ? 1 : 0);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
