// The harness's command line (loadtest/bench.ts parseArgs): defaults, smoke mode, and bad flags
// each refused with a UsageError naming the flag.
import t from 'tap';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchPlan, parseArgs } from '../loadtest/bench.js';
import { SCENARIOS } from '../loadtest/scenarios.js';

t.test('smoke mode is Ferry only, one repetition, and never writes over loadtest/RESULTS.md', async (t) => {
  const smoke = parseArgs(['--smoke']);
  t.same(smoke.brokers, ['ferry']);
  t.equal(smoke.reps, 1);
  t.ok(smoke.scenarios.length > 0, 'the smoke scenarios');
  t.equal(smoke.outDir, join(tmpdir(), 'ferry-bench-smoke'), 'its figures go to a scratch directory');
  t.equal(parseArgs(['--smoke', '--out', '/tmp/x']).outDir, '/tmp/x', '--out still chooses');
  t.match(parseArgs([]).outDir, /loadtest\/?$/, 'a full run writes loadtest/RESULTS.md');
});

t.test('scenarios, brokers and repetitions as given', async (t) => {
  const o = parseArgs(['publish-1', 'latency', '--brokers', 'ferry,rabbitmq', '--reps', '2']);
  t.same(o.scenarios, ['publish-1', 'latency']);
  t.same(o.brokers, ['ferry', 'rabbitmq-classic', 'rabbitmq-quorum'], 'rabbitmq means both queue types');
  t.equal(o.reps, 2);
});

t.test('the plan interleaves repetitions, and a scenario marked once runs in the last only', async (t) => {
  const scenarios: Array<{ id: string; once?: boolean }> = [{ id: 'a' }, { id: 'm', once: true }, { id: 'b' }];
  const plan = benchPlan(scenarios, 3);
  t.same(plan.map((p) => `${p.rep}:${p.scenario.id}`), ['1:a', '1:b', '2:a', '2:b', '3:a', '3:m', '3:b'], 'nothing runs after it on a peer it may have broken');
  t.same(benchPlan(scenarios, 1).map((p) => p.scenario.id), ['a', 'm', 'b'], 'one repetition: every scenario once');
  const once = SCENARIOS.filter((s) => s.once === true).map((s) => s.id).sort();
  t.same(once, ['memory-idle', 'memory-queued'], 'the memory scenarios (a peak over minutes of filling) run once');
});

t.test('the floors run only when named', async (t) => {
  t.notOk(parseArgs([]).brokers.some((b) => b.startsWith('floor')), 'not in the default list');
  t.same(parseArgs(['--brokers', 'ferry,floor-2,floor-4,floor-4-sync']).brokers, ['ferry', 'floor-2', 'floor-4', 'floor-4-sync']);
});

t.test('bad flags are refused with the flag named', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--reps', '0'], /--reps must be an integer/],
    [['--reps', 'x'], /--reps must be an integer/],
    [['--reps'], /--reps needs a value/],
    [['--brokers', 'kafka'], /unknown broker kafka/],
    [['--shards', '65'], /--shards must be an integer/],
    [['--messages', '-1'], /--messages must be an integer/],
    [['no-such-scenario'], /unknown scenario no-such-scenario/],
    [['--fast'], /unknown flag --fast/],
  ];
  for (const [argv, message] of cases) t.throws(() => parseArgs(argv), { name: 'UsageError', code: 'Usage', message }, argv.join(' '));
});
