/**
 * Cluster load test (`npm run bench:cluster`): replicated send throughput and latency with
 * acks=quorum on three local nodes against one single node, the failover time under load, and the
 * throughput of one queue over 1, 2 and 3 partitions and while autoscale grows it.
 * Everything runs on loopback with real processes (the same helpers as the integration tests);
 * every phase is bounded in time. Prints a markdown table (copied into loadtest/RESULTS-cluster.md).
 *
 *   BENCH_SECONDS   length of each throughput phase (default 5)
 *   BENCH_CLIENTS   connections (default 4), each with BENCH_INFLIGHT sends in flight (default 16)
 *   BENCH_PHASES    comma-separated subset of replication,failover,partitions (default all)
 */
import { connect, type FerryClient } from '../src/client/index.js';
import { BrokerProcess } from '../test/helpers/broker.js';
import { queueMeta, startCluster, waitFor, type TestCluster } from '../test/helpers/cluster.js';
import type { OpArgs } from '../src/protocol/ops.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 16);
const BODY = Buffer.alloc(256, 0x61);
const FAILOVER_ROUNDS = 3;
const PHASES = new Set((process.env.BENCH_PHASES ?? 'replication,failover,partitions').split(','));
/** Message groups of the partition phases' sends (spread over the partitions by hash). */
const GROUPS = 64;

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

interface MeasureOptions {
  /** Each send in one of GROUPS groups. */
  grouped?: boolean;
  /** Default SECONDS. */
  seconds?: number;
  /** Called every second with the sends acknowledged so far. */
  onSecond?: (sends: number) => void;
}

/** Sends 256-byte bodies for SECONDS through CLIENTS connections with INFLIGHT each. */
async function measure(urls: string[], queue: string, opts: MeasureOptions = {}): Promise<Figures> {
  const { grouped = false, seconds = SECONDS, onSecond } = opts;
  const clients: FerryClient[] = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(await connect(urls[i % urls.length]!, { reconnect: false }));
  const latencies: number[] = [];
  const until = Date.now() + seconds * 1000;
  const started = performance.now();
  let n = 0;
  const ticker = onSecond === undefined ? undefined : setInterval(() => onSecond(latencies.length), 1000);
  await Promise.all(clients.flatMap((c) => Array.from({ length: INFLIGHT }, async () => {
    while (Date.now() < until) {
      const t0 = performance.now();
      await c.queue(queue).send(BODY, grouped ? { groupId: `g${n++ % GROUPS}` } : undefined);
      latencies.push(performance.now() - t0);
    }
  })));
  if (ticker !== undefined) clearInterval(ticker);
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

/** Creates a queue and waits until every node lists it (createQueue answers before every node's etcd watch saw the record). */
async function createEverywhere(cluster: TestCluster, admin: FerryClient, args: OpArgs<'createQueue'>): Promise<void> {
  await admin.request('createQueue', args);
  for (const url of cluster.urls()) {
    const c = await connect(url, { reconnect: false });
    try {
      await waitFor(`node ${url} to know queue ${args.queue}`, async () => ((await c.listQueues()).queues.includes(args.queue) ? true : undefined), 10_000);
    } finally {
      await c.close();
    }
  }
}

/** Active partitions of a queue, from its record in etcd (one client made before the load: making one costs the bench's event loop). */
async function partitionCounter(etcdUrl: string): Promise<{ active(name: string): Promise<number>; close(): void }> {
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({ hosts: etcdUrl });
  const active = async (name: string): Promise<number> => {
    const text = await client.get(`/ferry/queues/${name}`).string();
    return text === null ? 0 : ((JSON.parse(text) as { layout?: { active: number } }).layout?.active ?? 1);
  };
  await active('warm-up');
  return { active, close: () => client.close() };
}

/**
 * One queue over 1, 2 and 3 partitions (created so, led by different nodes), then one that starts at
 * one partition with autoscale by rate and grows under the same load: sends/s each second with the
 * partition count at that moment. Clients on every node, grouped sends (GROUPS groups).
 */
async function partitionPhases(cluster: TestCluster, lines: string[]): Promise<void> {
  const admin = await connect(cluster.nodes[0]!.url, { reconnect: false });
  await createEverywhere(cluster, admin, { queue: 'plain' });
  const plain = await measure(cluster.urls(), 'plain', { grouped: true });
  const fixed: Array<[number, Figures]> = [];
  for (const partitions of [1, 2, 3]) {
    const name = `fixed${partitions}`;
    await createEverywhere(cluster, admin, { queue: name, partitioning: { partitions } });
    fixed.push([partitions, await measure(cluster.urls(), name, { grouped: true })]);
  }
  const limit = Math.max(100, Math.round(fixed[0]![1].perSecond / 2));
  await createEverywhere(cluster, admin, { queue: 'scaling', partitioning: { autoscale: true, limitBy: 'rate', limit, maxPartitions: 3 } });
  const counter = await partitionCounter(cluster.etcd.url);
  const timeline: Array<[number, number, number]> = [];
  let previous = 0;
  const started = Date.now();
  const seconds = Math.max(SECONDS * 3, 15);
  const all = await measure(cluster.urls(), 'scaling', {
    grouped: true,
    seconds,
    onSecond: (total) => {
      const now = Math.round((Date.now() - started) / 1000);
      const sends = total - previous;
      previous = total;
      void counter.active('scaling').then((p) => timeline.push([now, p, sends]));
    },
  });
  counter.close();
  await admin.close();
  lines.push('');
  lines.push(`One queue over several partitions (3 nodes, acks=quorum, ${CLIENTS} connections spread over the nodes × ${INFLIGHT} in flight, ${GROUPS} groups, ${SECONDS} s each):`);
  lines.push('');
  lines.push('| partitions | sends | sends/s | p50 ms | p99 ms | p99.9 ms |');
  lines.push('|---|---|---|---|---|---|');
  lines.push(row('plain queue (no `partitioning`)', plain));
  for (const [p, f] of fixed) lines.push(row(String(p), f));
  lines.push('');
  lines.push(`Autoscale by rate (limit ${limit} sends/s per partition, grow above 80 %, at most 3), same load for ${seconds} s: ${Math.round(all.perSecond)} sends/s overall. Each second:`);
  lines.push('');
  lines.push('| second | active partitions | sends in that second |');
  lines.push('|---|---|---|');
  for (const [sec, p, n] of timeline.sort((a, b) => a[0] - b[0])) lines.push(`| ${sec} | ${p} | ${n} |`);
}

async function main(): Promise<void> {
  const lines: string[] = [`${SECONDS} s per phase, ${CLIENTS} connections × ${INFLIGHT} sends in flight, 256-byte bodies, 1 shard per node, loopback.`];
  if (PHASES.has('replication')) {
    const single = new BrokerProcess({ shards: 1 });
    scope.teardown(() => single.cleanup());
    await single.start();
    const c = await connect(single.url, { reconnect: false });
    await c.createQueue('bench');
    await c.close();
    const one = await measure([single.url], 'bench');
    await single.cleanup();
    lines.push('', '| setup | sends | sends/s | p50 ms | p99 ms | p99.9 ms |', '|---|---|---|---|---|---|', row('single node (fsync on 1 node)', one));
  }
  const cluster = await startCluster(scope, 3, { shards: 1 });
  if (PHASES.has('replication')) {
    const admin = await connect(cluster.nodes[0]!.url, { reconnect: false });
    await admin.request('createQueue', { queue: 'bench', acks: 'quorum' });
    await admin.close();
    const meta = await queueMeta(cluster.etcd.url, 'bench');
    const leaderIndex = Number(meta!.leader.slice(1)) - 1;
    const toLeader = await measure([cluster.nodes[leaderIndex]!.url], 'bench');
    const viaOthers = await measure(cluster.nodes.filter((_, i) => i !== leaderIndex).map((n) => n.url), 'bench');
    lines.push(row('3 nodes, acks=quorum, clients on the leader', toLeader));
    lines.push(row('3 nodes, acks=quorum, clients on the followers (forwarded)', viaOthers));
  }
  if (PHASES.has('failover')) {
    const gaps = await failoverRounds(cluster);
    lines.push('', `Failover under load (kill -9 of the leader, 3 s etcd lease): longest pause in acknowledged sends per round: ${gaps.map((g) => `${g} ms`).join(', ')}.`);
  }
  if (PHASES.has('partitions')) await partitionPhases(cluster, lines);
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  await main();
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
