// The load-test harness in smoke mode (Ferry only, tiny counts): it must start its own broker,
// run the issue-2 scenarios and write numbers, so the harness cannot rot unnoticed.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from './helpers/paths.js';

const BENCH = repoPath('dist/loadtest/bench.js');
const COMMITTED = repoPath('loadtest/RESULTS.md');

interface Run {
  scenario: string;
  broker: string;
  status: string;
  reason?: string;
  measurement?: { messages: number; msgsPerSec: number; cpuPer100k?: number; loadGenCpuPer100k?: number; threadCpu?: Record<string, number>; latency?: { count: number; p50: number; p99: number; p999: number; max: number }; notes?: string[] };
}

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BENCH, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`bench --smoke did not finish within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

t.test('bench --smoke runs the core scenarios on Ferry and writes numbers to --out', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'ferry-bench-smoke-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const committedBefore = existsSync(COMMITTED) ? statSync(COMMITTED).mtimeMs : undefined;
  const { code, stderr } = await run(['--smoke', '--out', out], 90_000);
  t.equal(code, 0, `exit 0\n${stderr}`);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { smoke: boolean; runs: Run[]; versions: Record<string, string> };
  t.equal(results.smoke, true);
  t.same([...new Set(results.runs.map((r) => r.broker))], ['ferry'], 'Ferry only');
  t.same(results.runs.map((r) => r.scenario), ['publish-1', 'publish-16', 'consume-1', 'consume-16', 'latency']);
  for (const r of results.runs) {
    t.equal(r.status, 'ok', `${r.scenario}: ${r.reason ?? ''}`);
    t.ok(r.measurement !== undefined && r.measurement.messages > 0 && r.measurement.msgsPerSec > 0, `${r.scenario} moved messages`);
    // Both sides of the machine's CPU are measured: the broker's process and the harness's own.
    t.ok((r.measurement?.cpuPer100k ?? 0) > 0, `${r.scenario}: broker CPU measured`);
    t.ok((r.measurement?.loadGenCpuPer100k ?? 0) > 0, `${r.scenario}: load generator CPU measured`);
  }
  // The broker's CPU by thread (/proc counts 10 ms ticks per thread: a smoke phase may leave a
  // thread at 0): known roles only, adding up to the broker's CPU, and the shards worked somewhere.
  for (const r of results.runs) {
    const byThread = r.measurement!.threadCpu ?? {};
    t.ok(Object.keys(byThread).every((k) => /^(main|shard-\d+|syncer-\d+|rocksdb|other)$/.test(k)), `${r.scenario}: thread roles ${JSON.stringify(byThread)}`);
    const sum = Object.values(byThread).reduce((a, b) => a + b, 0);
    const process = (r.measurement!.cpuPer100k! * r.measurement!.messages) / 100_000;
    t.ok(Math.abs(sum - process) <= 0.05, `${r.scenario}: the threads add up to the broker's CPU (${sum.toFixed(2)} s, ${process.toFixed(2)} s)`);
  }
  t.ok(results.runs.some((r) => Object.entries(r.measurement!.threadCpu ?? {}).some(([k, v]) => k.startsWith('shard-') && v > 0)), 'the shard workers\' CPU is theirs');
  t.match(readFileSync(join(out, 'RESULTS.md'), 'utf8'), /### Broker CPU by thread, µs per message[^]*\| publish-1 \| [\d.]+ \| [\d.]+ \|/, 'and RESULTS.md shows it');
  const latencyRun = results.runs.find((r) => r.scenario === 'latency')!.measurement!;
  const latency = latencyRun.latency!;
  t.ok(latency.count > 0, 'latency samples recorded');
  // Smoke: 1,000 msg/s for a measured 1 s after a 0.2 s warm-up; the warm-up's 200 are not counted.
  t.ok(latency.count <= 1000, `only the measured second's messages are counted (${latency.count})`);
  const warmUp = /^warm-up \(0\.2 s at the same rate before the measured 1 s, not counted\): p50 [\d.]+ \/ p99 [\d.]+ \/ max [\d.]+ ms$/;
  t.ok((latencyRun.notes ?? []).some((n) => warmUp.test(n)), `the warm-up is reported: ${JSON.stringify(latencyRun.notes)}`);
  t.ok(latency.p50 > 0 && latency.p50 <= latency.p99 && latency.p99 <= latency.p999 && latency.p999 <= latency.max, 'percentiles ordered');
  const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
  t.match(md, /npm run bench -- --smoke --out/, 'RESULTS.md names the command');
  t.match(md, /\| publish-1 \| [\d,]+ msg\/s/, 'RESULTS.md has the publish figure');
  t.match(md, /^\| ferry \| [\d,]+ \| [\d.]+ \| [\d.]+ \| [\d,]+ \|\s+\|$/m, 'throughput tables give broker and load-generator CPU and the CPU ceiling');
  t.equal(existsSync(COMMITTED) ? statSync(COMMITTED).mtimeMs : undefined, committedBefore, 'loadtest/RESULTS.md untouched');
  t.match(stderr, /5\/5/, 'progress reached the last step');
});

t.test('bench --smoke runs the memory scenarios on a fresh broker and reports its RSS', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'ferry-bench-smoke-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const { code, stderr } = await run(['memory-queued', 'memory-idle', '--smoke', '--messages', '3000', '--clients', '50', '--out', out], 90_000);
  t.equal(code, 0, `exit 0\n${stderr}`);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: Array<Run & { measurement?: { memory?: { unit: string; count: number; baseline: { rssBytes: number }; held: { rssBytes: number; hwmBytes: number } } } }> };
  t.same(results.runs.map((r) => [r.scenario, r.status]), [['memory-queued', 'ok'], ['memory-idle', 'ok']], stderr);
  const [queued, idle] = results.runs.map((r) => r.measurement!.memory!);
  t.match(queued, { unit: 'messages', count: 3000 });
  t.match(idle, { unit: 'connections', count: 50 });
  for (const m of [queued!, idle!]) t.ok(m.baseline.rssBytes > 0 && m.held.rssBytes > 0 && m.held.hwmBytes >= m.held.rssBytes, 'RSS figures read from /proc');
  const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
  t.match(md, /\| memory-queued \| RSS \d+ MB with 3,000 messages/, 'RESULTS.md has the memory figure');
});

t.test('bench rejects unknown scenarios and brokers with a usage error', async (t) => {
  const a = await run(['no-such-scenario'], 20_000);
  t.equal(a.code, 2);
  t.match(a.stderr, /unknown scenario no-such-scenario/);
  const b = await run(['--brokers', 'kafka'], 20_000);
  t.equal(b.code, 2);
  t.match(b.stderr, /unknown broker kafka/);
  const c = await run(['--messages', '0'], 20_000);
  t.equal(c.code, 2);
  t.match(c.stderr, /--messages must be an integer/);
});
