// The HTTP side of the broker's port: /healthz, /readyz, /metrics in the Prometheus text format
// (request counters and queue depth gauges after real traffic), and 404 JSON for anything else.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { connect, ErrorCodes } from '../src/client/index.js';
import { processCpuSeconds } from '../src/common/thread-cpu.js';

const broker = await startBroker(t);

/**
 * Parses the Prometheus text exposition format strictly enough to catch a malformed line. Values
 * are read as Prometheus reads them (Go's ParseFloat: NaN and Inf in any case; prom-client writes
 * `Nan`).
 */
function parseMetrics(body: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of body.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|[Nn][Aa][Nn]|[+-][Ii][Nn][Ff]))$/.exec(line);
    if (sample === null) throw new Error(`not a Prometheus line: ${JSON.stringify(line)}`);
    samples.set(sample[1]!, /^nan$/i.test(sample[2]!) ? NaN : Number(sample[2]!.replace(/inf$/i, 'Infinity')));
  }
  return { samples, types };
}

async function scrape(httpUrl = broker.httpUrl): Promise<{ samples: Map<string, number>; types: Map<string, string>; contentType: string | null }> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return { ...parseMetrics(await res.text()), contentType: res.headers.get('content-type') };
}

t.test('/healthz and /readyz', async (t) => {
  const health = await fetch(`${broker.httpUrl}/healthz`);
  t.equal(health.status, 200);
  t.equal(await health.text(), 'ok\n');
  const ready = await fetch(`${broker.httpUrl}/readyz`);
  t.equal(ready.status, 200);
  t.equal(await ready.text(), 'ready\n');
});

t.test('/metrics after some traffic', async (t) => {
  const client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  await client.createQueue('metrics-q');
  const q = client.queue('metrics-q');
  await q.send('a');
  await q.send('b');
  await q.sendBatch(['c', 'd', 'e']);
  await q.send('later', { delayMs: 600_000 });
  const got = await q.receive({ max: 2, visibilityMs: 600_000 });
  await q.delete(got[0]!.receipt);
  await t.rejects(client.queue('metrics-missing').send('x'), { code: ErrorCodes.QueueDoesNotExist });

  const m = await scrape();
  t.match(m.contentType, /^text\/plain; version=0\.0\.4/, 'Prometheus content type');
  t.equal(m.types.get('ferry_requests_total'), 'counter');
  t.equal(m.types.get('ferry_request_errors_total'), 'counter');
  t.equal(m.types.get('ferry_request_duration_seconds'), 'histogram');
  t.equal(m.types.get('ferry_queue_messages'), 'gauge');
  t.equal(m.types.get('ferry_connections'), 'gauge');

  t.equal(m.samples.get('ferry_requests_total{op="send"}'), 4, 'sends counted (the failed one too)');
  t.equal(m.samples.get('ferry_requests_total{op="sendBatch"}'), 1);
  t.equal(m.samples.get('ferry_requests_total{op="receive"}'), 1);
  t.equal(m.samples.get('ferry_requests_total{op="delete"}'), 1);
  t.equal(m.samples.get('ferry_request_errors_total{op="send",code="QueueDoesNotExist"}'), 1, 'errors by op and code');
  t.equal(m.samples.get('ferry_messages_total{queue="metrics-q",event="sent"}'), 6, 'messages sent, batch entries included');
  t.equal(m.samples.get('ferry_messages_total{queue="metrics-q",event="received"}'), 2);
  t.equal(m.samples.get('ferry_messages_total{queue="metrics-q",event="deleted"}'), 1);
  t.equal(m.samples.get('ferry_request_duration_seconds_count{op="send"}'), 4, 'latency histogram observed every send');

  t.equal(m.samples.get('ferry_queue_messages{queue="metrics-q",state="visible"}'), 3, 'depth: visible');
  t.equal(m.samples.get('ferry_queue_messages{queue="metrics-q",state="leased"}'), 1, 'depth: leased');
  t.equal(m.samples.get('ferry_queue_messages{queue="metrics-q",state="delayed"}'), 1, 'depth: delayed');
  t.ok((m.samples.get('ferry_queue_oldest_age_seconds{queue="metrics-q"}') ?? -1) >= 0, 'oldest age gauge');
  t.equal(m.samples.get('ferry_connections'), 1, 'one open connection');

  // Outcomes the shards count: a rejected message moved to its dead-letter queue, a duplicate refused.
  await client.createQueue('metrics-dlq');
  await client.createQueue('metrics-src', { deadLetter: { queue: 'metrics-dlq', maxReceives: 5 }, dedupWindowMs: 60_000 });
  const src = client.queue('metrics-src');
  await src.send('once', { dedupId: 'd1' });
  await src.send('once', { dedupId: 'd1' });
  const [rejected] = await src.receive({ max: 1 });
  await src.reject(rejected!.receipt);
  const o = await scrape();
  t.equal(o.types.get('ferry_queue_outcomes_total'), 'counter');
  t.equal(o.samples.get('ferry_queue_outcomes_total{queue="metrics-src",outcome="deadLettered"}'), 1, 'dead letters per queue');
  t.equal(o.samples.get('ferry_queue_outcomes_total{queue="metrics-src",outcome="duplicates"}'), 1, 'duplicates per queue');

  // Gauges follow the queue: after a purge and a delete they change at the next scrape.
  await client.purgeQueue('metrics-q');
  t.equal((await scrape()).samples.get('ferry_queue_messages{queue="metrics-q",state="visible"}'), 0, 'depth after a purge');
  await client.deleteQueue('metrics-q');
  const gone = await scrape();
  t.equal(gone.samples.has('ferry_queue_messages{queue="metrics-q",state="visible"}'), false, 'a deleted queue has no gauge');
  t.equal(gone.samples.has('ferry_messages_total{queue="metrics-q",event="sent"}'), false, 'nor message counters');
  t.ok(gone.samples.has('ferry_messages_total{queue="metrics-src",event="sent"}'), 'other queues keep theirs');
});

t.test('unknown paths and methods answer 404 JSON', async (t) => {
  for (const [method, path] of [['GET', '/nope'], ['GET', '/a/b/c'], ['POST', '/metrics'], ['POST', '/admin/shards/0/crash']] as const) {
    const res = await fetch(`${broker.httpUrl}${path}`, { method });
    t.equal(res.status, 404, `${method} ${path}`);
    t.match(res.headers.get('content-type'), /^application\/json/);
    t.match(await res.json(), { code: 'NotFound', message: String });
  }
  t.equal((await fetch(`${broker.httpUrl}/healthz`)).status, 200, 'still healthy');
});

t.test('a scrape while a shard worker dies is still answered (it never hangs)', async (t) => {
  const faulty = await startBroker(t, { args: ['--fault-injection'], shards: 2 });
  const client = await connect(faulty.url, { reconnect: false });
  t.teardown(() => client.close());
  await client.createQueue('metrics-crash-a');
  await client.createQueue('metrics-crash-b');
  for (let round = 0; round < 3; round++) {
    // The crash is posted to the worker at once; the scrape's stats request follows it to the
    // dying worker, which never answers it: the pool must answer it when the worker exits.
    const [crash, scraped] = await Promise.all([
      fetch(`${faulty.httpUrl}/admin/shards/0/crash`, { method: 'POST' }),
      fetch(`${faulty.httpUrl}/metrics`, { signal: AbortSignal.timeout(10_000) }),
    ]);
    t.equal(crash.status, 202, `round ${round}: shard 0 crashing`);
    t.equal(scraped.status, 200, `round ${round}: the scrape is answered`);
    parseMetrics(await scraped.text());
    const deadline = Date.now() + 15_000;
    while ((await fetch(`${faulty.httpUrl}/readyz`)).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    t.equal((await fetch(`${faulty.httpUrl}/readyz`)).status, 200, `round ${round}: the shard is back`);
  }
  const m = await scrape(faulty.httpUrl);
  t.ok(m.samples.has('ferry_queue_messages{queue="metrics-crash-a",state="visible"}') && m.samples.has('ferry_queue_messages{queue="metrics-crash-b",state="visible"}'), 'both shards report again');
  t.ok(m.samples.has('ferry_thread_cpu_seconds_total{thread="shard-0"}') && m.samples.has('ferry_thread_cpu_seconds_total{thread="syncer-0"}'), 'the restarted shard\'s new threads are named again');
});

t.test('CPU by thread: main, each shard and its syncer, RocksDB\'s threads and the rest add up to the process', async (t) => {
  const threadCpu = (m: Map<string, number>): Map<string, number> => {
    const out = new Map<string, number>();
    for (const [key, v] of m) {
      const thread = /^ferry_thread_cpu_seconds_total\{thread="([^"]+)"\}$/.exec(key)?.[1];
      if (thread !== undefined) out.set(thread, v);
    }
    return out;
  };
  const client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  // Two queues, one per shard of the test broker (placement is by name: enough names cover both).
  const names = Array.from({ length: 8 }, (_, i) => `cpu-${i}`);
  for (const n of names) await client.createQueue(n);
  const before = await scrape();
  t.equal(before.types.get('ferry_thread_cpu_seconds_total'), 'counter');
  const bodies = Array.from({ length: 100 }, () => 'x'.repeat(256));
  for (let round = 0; round < 40; round++) await Promise.all(names.map((n) => client.queue(n).sendBatch(bodies)));
  const after = await scrape();
  const b = threadCpu(before.samples);
  const a = threadCpu(after.samples);
  t.same([...a.keys()].sort(), ['main', 'other', 'rocksdb', 'shard-0', 'shard-1', 'syncer-0', 'syncer-1'], 'every thread role, each shard\'s own');
  for (const shard of ['shard-0', 'shard-1']) t.ok(a.get(shard)! > b.get(shard)!, `${shard} worked for the 32,000 sends`);
  t.ok(a.get('main')! > b.get('main')!, 'so did the main thread');
  const sum = [...a.values()].reduce((x, y) => x + y, 0);
  // Read after the scrape from outside, the broker idle meanwhile (prom-client's process CPU counts only since the registry was made).
  const process = processCpuSeconds(broker.pid!)!;
  t.ok(Math.abs(sum - process) < 0.1, `the parts add up to the process's CPU (${sum.toFixed(2)} s by thread, ${process.toFixed(2)} s in /proc/PID/stat)`);
  for (const n of names) await client.deleteQueue(n);
});
