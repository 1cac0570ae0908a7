// The report: the arithmetic that is not a plain median (the CPU ceiling of a throughput run, the broker CPU by thread per message) and its header.
import t from 'tap';
import { cpuCeiling, renderResults, threadGroups, type BenchResults } from '../loadtest/report.js';
import { FULL } from '../loadtest/scenarios.js';

t.test('the CPU ceiling is the rate at which broker and load generator fill every core', async (t) => {
  // 1.2 + 0.8 CPU-s per 100k on 2 cores: 2 s of CPU per second buys 100k messages.
  t.equal(cpuCeiling(2, 1.2, 0.8), 100_000);
  t.equal(cpuCeiling(4, 1, 1), 200_000, 'scales with the cores');
  t.equal(cpuCeiling(2, 0, 0), undefined, 'no CPU measured: no ceiling, never Infinity');
});

t.test('the header says which scenarios ran once when the others were repeated', async (t) => {
  const results: BenchResults = {
    command: 'npm run bench -- publish-1 memory-idle --reps 3', date: '2026-11-26T00:00:00.000Z', smoke: false, reps: 3, shards: 2,
    machine: { cpus: 2, cpuModel: 'test', kernel: 'test', node: 'v20' }, versions: {}, sizes: FULL,
    scenarios: [
      { id: 'publish-1', title: 'publish', kind: 'throughput' },
      { id: 'memory-idle', title: 'idle clients', kind: 'memory', once: true },
    ],
    runs: [],
  };
  const median = (xs: number[]): number => xs[0] ?? 0;
  t.match(renderResults(results, median), /- Repetitions: 3, interleaved .*; memory-idle ran once per broker/);
  t.notMatch(renderResults({ ...results, reps: 1 }, median), /ran once per broker/, 'nothing to say with one repetition');
});

t.test('the broker\'s CPU by thread, µs per message, with the shards and syncers summed', async (t) => {
  const threads = { main: 0.1, 'shard-0': 0.2, 'shard-1': 0.3, 'syncer-0': 0.006, 'syncer-1': 0.004, rocksdb: 0.05, other: 0.04 };
  const results: BenchResults = {
    command: 'npm run bench -- publish-1 latency', date: '2026-11-27T00:00:00.000Z', smoke: false, reps: 1, shards: 2,
    machine: { cpus: 2, cpuModel: 'test', kernel: 'test', node: 'v20' }, versions: {}, sizes: FULL,
    scenarios: [{ id: 'publish-1', title: 'publish', kind: 'throughput' }, { id: 'latency', title: 'latency', kind: 'latency' }],
    runs: [
      { scenario: 'publish-1', broker: 'ferry', rep: 1, status: 'ok', measurement: { messages: 100_000, seconds: 1, msgsPerSec: 100_000, threadCpu: threads } },
      { scenario: 'latency', broker: 'ferry', rep: 1, status: 'ok', measurement: { messages: 50_000, seconds: 10, msgsPerSec: 5000, threadCpu: threads } },
    ],
  };
  const median = (xs: number[]): number => xs[0] ?? 0;
  t.same(threadGroups(threads), new Map([['main', 0.1], ['shard', 0.5], ['syncer', 0.01], ['rocksdb', 0.05], ['other', 0.04]]));
  const text = renderResults(results, median);
  t.match(text, /\| publish-1 \| 1\.00 \| 5\.00 \| 0\.10 \| 0\.50 \| 0\.40 \| 7\.00 \|/, 'per message: 0.1 s over 100,000 messages is 1 µs');
  t.notMatch(text, /\| latency \| [\d.]+ \|/, 'throughput scenarios only');
  const withoutThreads = { ...results, runs: results.runs.map((r) => ({ ...r, measurement: { messages: r.measurement!.messages, seconds: 1, msgsPerSec: 1 } })) };
  t.notMatch(renderResults(withoutThreads, median), /Broker CPU by thread/, 'no table where the threads could not be read (not Linux)');
});
