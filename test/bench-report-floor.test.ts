// RESULTS.md with floors (loadtest/floor-server.ts) in the run: they are labelled as floors, a note
// says what a floor is, and a floor is never the "best peer"; without floors nothing about them shows.
import t from 'tap';
import { renderResults, type BenchResults, type RunRecord } from '../loadtest/report.js';
import { SMOKE } from '../loadtest/scenarios.js';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function latencyRun(broker: string, p50: number, p99: number): RunRecord {
  return {
    scenario: 'latency', broker, rep: 1, status: 'ok',
    measurement: { messages: 1000, seconds: 1, msgsPerSec: 1000, latency: { count: 1000, p50, p90: p99, p99, p999: p99, max: p99 } as never },
  };
}

function throughputRun(broker: string, msgsPerSec: number): RunRecord {
  return { scenario: 'publish-1', broker, rep: 1, status: 'ok', measurement: { messages: msgsPerSec, seconds: 1, msgsPerSec } };
}

function results(runs: RunRecord[]): BenchResults {
  return {
    command: 'test', date: '2026-11-26T00:00:00Z', smoke: true, reps: 1, shards: 2,
    machine: { cpus: 2, cpuModel: 'test', kernel: 'test', node: process.version },
    versions: {}, sizes: SMOKE,
    scenarios: [{ id: 'publish-1', title: 'publish', kind: 'throughput' }, { id: 'latency', title: 'latency', kind: 'latency' }],
    runs,
  };
}

t.test('floors are labelled, explained, and never the best peer', async (t) => {
  const md = renderResults(results([
    throughputRun('ferry', 80_000), throughputRun('redis', 60_000), throughputRun('floor-2', 200_000),
    latencyRun('ferry', 0.9, 6), latencyRun('redis', 0.8, 5), latencyRun('floor-4', 0.5, 2),
  ]), median);
  const summary = md.slice(md.indexOf('## Summary'), md.indexOf('## publish-1'));
  t.match(summary, /\| publish-1 \| 80,000 msg\/s \| 60,000 msg\/s \(redis\) \|/, 'the best peer of publish-1 is redis, not floor-2');
  t.match(summary, /\| latency \| .* \| p99 5\.00 ms, p50 0\.80 ms \(redis\) \|/, 'the best peer of latency is redis, not floor-4');
  t.match(summary, /floor-2, floor-4: floors, not peers: Ferry's thread shape without its logic/);
  t.match(md, /\| floor-2 \(floor\) \| 200,000 \|/, 'the throughput row says floor');
  t.match(md, /\| floor-4 \(floor\) \| 0\.50 \|/, 'the latency row says floor');
  const latencySection = md.slice(md.indexOf('## latency'));
  t.match(latencySection, /^floor-4: floors, not peers/m, 'a note under the table where a floor ran');
});

t.test('without floors, nothing about floors', async (t) => {
  const md = renderResults(results([throughputRun('ferry', 80_000), latencyRun('ferry', 0.9, 6)]), median);
  // Up to the settings: after them come the hand-written analysis.md and memory.md, which may talk about floors.
  t.notMatch(md.slice(0, md.indexOf('## Settings')), /\(floor\)|floors, not peers/);
});
