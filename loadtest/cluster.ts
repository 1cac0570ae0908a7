/**
 * Cluster load test (`npm run bench:cluster`): replicated send throughput and latency with
 * acks=quorum on three local nodes against one single node, and the failover time under load.
 * Everything runs on loopback with real processes (the same helpers as the integration tests);
 * every phase is bounded in time. Prints a markdown table (copied into loadtest/RESULTS-cluster.md).
 *
 *   BENCH_SECONDS   length of each throughput phase (default 5)
 *   BENCH_CLIENTS   connections (default 4), each with BENCH_INFLIGHT sends in flight (default 16)
 */
import { connect, type FerryClient } from '../src/client/index.js';
import { BrokerProcess } from '../test/helpers/broker.js';
import { queueMeta, startCluster, type TestCluster } from '../test/helpers/cluster.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 16);
const BODY = Buffer.alloc(256, 0x61);
const FAILOVER_ROUNDS = 3;

const cleanups: Array<() => unknown> = [];
const scope = { teardown: (fn: () => unknown) => void cleanups.push(fn) };

interface Figures {
  sends: number;
  perSecond: number;
  p50: number;
  p99: number;
  p999: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Sends 256-byte bodies for SECONDS through CLIENTS connections with INFLIGHT each. */
async function measure(urls: string[], queue: string): Promise<Figures> {
  const clients: FerryClient[] = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(await connect(urls[i % urls.length]!, { reconnect: false }));
  const latencies: number[] = [];
  const until = Date.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(clients.flatMap((c) => Array.from({ length: INFLIGHT }, async () => {
    while (Date.now() < until) {
      const t0 = performance.now();
      await c.queue(queue).send(BODY);
      latencies.push(performance.now() - t0);
    }
  })));
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  latencies.sort((a, b) => a - b);
  return { sends: latencies.length, perSecond: latencies.length / elapsed, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), p999: percentile(latencies, 0.999) };
}

async function failoverRounds(cluster: TestCluster): Promise<number[]> {
  const producer = await connect(cluster.urls(), { requestTimeoutMs: 10_000, backoff: { initialMs: 50, maxMs: 500 } });
  await producer.createQueue('failover');
  const acks: number[] = [];
  let stopped = false;
  const workers = Array.from({ length: 4 }, async () => {
    while (!stopped) {
      try {
        await producer.queue('failover').send(BODY);
        acks.push(Date.now());
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  const gaps: number[] = [];
  for (let round = 0; round < FAILOVER_ROUNDS; round++) {
    await new Promise((r) => setTimeout(r, 2000));
    const meta = await queueMeta(cluster.etcd.url, 'failover');
    const victim = cluster.nodes[Number(meta!.leader.slice(1)) - 1]!;
    const killedAt = Date.now();
    await victim.kill();
    const deadline = killedAt + 30_000;
    while (acks.filter((x) => x > killedAt).length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const after = acks.filter((x) => x >= killedAt).sort((a, b) => a - b);
    let gap = 0;
    let prev = killedAt;
    for (const x of after) {
      gap = Math.max(gap, x - prev);
      prev = x;
    }
    gaps.push(after.length === 0 ? Infinity : gap);
    await victim.start();
  }
  stopped = true;
  await Promise.all(workers);
  await producer.close();
  return gaps;
}

function row(name: string, f: Figures): string {
  return `| ${name} | ${f.sends} | ${Math.round(f.perSecond)} | ${f.p50.toFixed(2)} | ${f.p99.toFixed(2)} | ${f.p999.toFixed(2)} |`;
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const single = new BrokerProcess({ shards: 1 });
  scope.teardown(() => single.cleanup());
  await single.start();
  const c = await connect(single.url, { reconnect: false });
  await c.createQueue('bench');
  await c.close();
  const one = await measure([single.url], 'bench');
  await single.cleanup();

  const cluster = await startCluster(scope, 3, { shards: 1 });
  const admin = await connect(cluster.nodes[0]!.url, { reconnect: false });
  await admin.request('createQueue', { queue: 'bench', acks: 'quorum' });
  await admin.close();
  const meta = await queueMeta(cluster.etcd.url, 'bench');
  const leaderIndex = Number(meta!.leader.slice(1)) - 1;
  const toLeader = await measure([cluster.nodes[leaderIndex]!.url], 'bench');
  const viaOthers = await measure(cluster.nodes.filter((_, i) => i !== leaderIndex).map((n) => n.url), 'bench');
  const gaps = await failoverRounds(cluster);

  lines.push(`${SECONDS} s per phase, ${CLIENTS} connections × ${INFLIGHT} sends in flight, 256-byte bodies, 1 shard per node, loopback.`);
  lines.push('');
  lines.push('| setup | sends | sends/s | p50 ms | p99 ms | p99.9 ms |');
  lines.push('|---|---|---|---|---|---|');
  lines.push(row('single node (fsync on 1 node)', one));
  lines.push(row('3 nodes, acks=quorum, clients on the leader', toLeader));
  lines.push(row('3 nodes, acks=quorum, clients on the followers (forwarded)', viaOthers));
  lines.push('');
  lines.push(`Failover under load (kill -9 of the leader, 3 s etcd lease): longest pause in acknowledged sends per round: ${gaps.map((g) => `${g} ms`).join(', ')}.`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  await main();
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
