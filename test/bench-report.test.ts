// The report: the arithmetic that is not a plain median (the CPU ceiling of a throughput run) and its header.
import t from 'tap';
import { cpuCeiling, renderResults, type BenchResults } from '../loadtest/report.js';
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
