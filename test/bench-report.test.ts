// The report's arithmetic that is not a plain median: the CPU ceiling of a throughput run.
import t from 'tap';
import { cpuCeiling } from '../loadtest/report.js';

t.test('the CPU ceiling is the rate at which broker and load generator fill every core', async (t) => {
  // 1.2 + 0.8 CPU-s per 100k on 2 cores: 2 s of CPU per second buys 100k messages.
  t.equal(cpuCeiling(2, 1.2, 0.8), 100_000);
  t.equal(cpuCeiling(4, 1, 1), 200_000, 'scales with the cores');
  t.equal(cpuCeiling(2, 0, 0), undefined, 'no CPU measured: no ceiling, never Infinity');
});
