// The harness's reading of Ferry's /metrics (loadtest/ferry-metrics.ts): what a measured phase
// added to the request histogram, the message counters and each thread's CPU.
import t from 'tap';
import { diffView, parseMetrics } from '../loadtest/ferry-metrics.js';

const scrape = (sent: number, requests: number, threads: Record<string, number>): string => [
  '# HELP ferry_request_duration_seconds x',
  '# TYPE ferry_request_duration_seconds histogram',
  `ferry_request_duration_seconds_bucket{le="0.001",op="sendBatch"} ${requests}`,
  `ferry_request_duration_seconds_bucket{le="+Inf",op="sendBatch"} ${requests}`,
  `ferry_request_duration_seconds_sum{op="sendBatch"} ${requests * 0.0005}`,
  `ferry_request_duration_seconds_count{op="sendBatch"} ${requests}`,
  `ferry_messages_total{queue="a",event="sent"} ${sent}`,
  `ferry_messages_total{queue="b",event="sent"} ${sent}`,
  ...Object.entries(threads).map(([thread, s]) => `ferry_thread_cpu_seconds_total{thread="${thread}"} ${s}`),
].join('\n');

t.test('a phase\'s requests, messages and CPU by thread are what the second scrape added to the first', async (t) => {
  const before = parseMetrics(scrape(10, 2, { main: 1, 'shard-0': 2, 'shard-1': 3, other: 0.5 }));
  const after = parseMetrics(scrape(60, 12, { main: 1.5, 'shard-0': 4, 'shard-1': 1, other: 0.5, rocksdb: 0.25 }));
  const view = diffView(before, after);
  t.match(view.ops.sendBatch, { requests: 10, p50LeMs: 1, p99LeMs: 1 });
  t.ok(Math.abs(view.ops.sendBatch!.meanMs - 0.5) < 1e-9, 'mean from the sums');
  t.same(view.messages, { sent: 100 }, 'summed over queues');
  t.same(view.threads, { main: 0.5, 'shard-0': 2, rocksdb: 0.25 },
    'shard-1 went down (a restarted shard starts from 0) and other did not grow: both left out, never negative');
});

t.test('a broker that reports no threads (not Linux) has no thread view', async (t) => {
  const view = diffView(parseMetrics(scrape(0, 1, {})), parseMetrics(scrape(5, 2, {})));
  t.equal(view.threads, undefined);
  t.same(view.messages, { sent: 10 });
});
