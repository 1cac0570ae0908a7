// The harness's reading of Ferry's /metrics (loadtest/ferry-metrics.ts): what a measured phase
// added to the request histogram and the message counters.
import t from 'tap';
import { diffView, parseMetrics } from '../loadtest/ferry-metrics.js';

const scrape = (sent: number, requests: number): string => [
  '# HELP ferry_request_duration_seconds x',
  '# TYPE ferry_request_duration_seconds histogram',
  `ferry_request_duration_seconds_bucket{le="0.001",op="sendBatch"} ${requests}`,
  `ferry_request_duration_seconds_bucket{le="+Inf",op="sendBatch"} ${requests}`,
  `ferry_request_duration_seconds_sum{op="sendBatch"} ${requests * 0.0005}`,
  `ferry_request_duration_seconds_count{op="sendBatch"} ${requests}`,
  `ferry_messages_total{queue="a",event="sent"} ${sent}`,
  `ferry_messages_total{queue="b",event="sent"} ${sent}`,
  'ferry_messages_total{queue="c",event="received"} 7',
].join('\n');

t.test('a phase\'s requests and messages are what the second scrape added to the first', async (t) => {
  const view = diffView(parseMetrics(scrape(10, 2)), parseMetrics(scrape(60, 12)));
  t.match(view.ops.sendBatch, { requests: 10, p50LeMs: 1, p99LeMs: 1 });
  t.ok(Math.abs(view.ops.sendBatch!.meanMs - 0.5) < 1e-9, 'mean from the sums');
  t.same(view.messages, { sent: 100 }, 'summed over queues; an event that did not grow is left out');
});

t.test('an op without requests in the phase is left out', async (t) => {
  t.same(diffView(parseMetrics(scrape(5, 2)), parseMetrics(scrape(5, 2))), { ops: {}, messages: {} });
});
