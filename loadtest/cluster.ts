/**
 * Cluster load test (`npm run bench:cluster`): replicated send throughput and latency with
 * acks=quorum on three local nodes against one single node, the failover time under load, the
 * throughput of one queue over 1, 2 and 3 partitions and while autoscale grows it, and isolation:
 * the latency of a light queue while another queue on the same leader is saturated, before and
 * after the supervisor's rebalancer moves one of them (docs/cluster.md "Moving queues").
 * Everything runs on loopback with real processes (the same helpers as the integration tests);
 * every phase is bounded in time. Prints a markdown table (copied into loadtest/RESULTS-cluster.md).
 *
 *   BENCH_SECONDS   length of each throughput phase (default 5)
 *   BENCH_CLIENTS   connections (default 4), each with BENCH_INFLIGHT sends in flight (default 16)
 *   BENCH_PHASES    comma-separated subset of replication,failover,partitions,isolation (default all)
 *   BENCH_LIGHT_RATE  sends/s of the light queue in the isolation phase (default 50)
 */
import { Worker } from 'node:worker_threads';
import { connect, type FerryClient } from '../src/client/index.js';
import type { SaturateData } from './saturate-worker.js';
import { BrokerProcess } from '../test/helpers/broker.js';
import { queueMeta, startCluster, waitFor, type TestCluster } from '../test/helpers/cluster.js';
import type { OpArgs } from '../src/protocol/ops.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 16);
const BODY = Buffer.alloc(256, 0x61);
const FAILOVER_ROUNDS = 3;
const PHASES = new Set((process.env.BENCH_PHASES ?? 'replication,failover,partitions,isolation').split(','));
/** Message groups of the partition phases' sends (spread over the partitions by hash). */
const GROUPS = 64;
const LIGHT_RATE = Number(process.env.BENCH_LIGHT_RATE ?? 50);
/** --rebalance-min-rate of the isolation cluster: far below what the saturating producer reaches. */
const ISOLATION_MIN_RATE = 500;

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

function figures(latencies: number[], seconds: number): Figures {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { sends: sorted.length, perSecond: sorted.length / seconds, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), p999: percentile(sorted, 0.999) };
}

interface Isolation {
  alone: Figures;
  colocated: Figures;
  apart: Figures;
  hotColocated: number;
  hotApart: number;
  rebalanceMs: number;
  moved: string;
  from: string;
  to: string;
}

/** A cluster whose two queues `hot` and `light` are led by one node. */
async function colocatedCluster(rebalance: string[]): Promise<{ cluster: TestCluster; leader: string }> {
  const cluster = await startCluster(scope, 3, { shards: 1, args: rebalance });
  const admin = await connect(cluster.urls(), { reconnect: false, requestTimeoutMs: 90_000 });
  await admin.createQueue('hot');
  await admin.createQueue('light');
  const leader = (await queueMeta(cluster.etcd.url, 'hot'))!.leader;
  if ((await queueMeta(cluster.etcd.url, 'light'))!.leader !== leader) await admin.moveQueue('light', leader);
  await admin.close();
  return { cluster, leader };
}

/** LIGHT_RATE paced sends to `light` until stopped; each send's latency with its time. */
function lightLoad(urls: string[]): { sends: Array<{ at: number; ms: number }>; stop(): Promise<void> } {
  const sends: Array<{ at: number; ms: number }> = [];
  let stopped = false;
  const running = (async () => {
    const client = await connect(urls, { requestTimeoutMs: 30_000 });
    const gap = 1000 / LIGHT_RATE;
    for (let next = performance.now(); !stopped; next += gap) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t0 = performance.now();
      await client.queue('light').send(BODY);
      sends.push({ at: Date.now(), ms: performance.now() - t0 });
    }
    await client.close();
  })();
  return {
    sends,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** The saturating producers of loadtest/saturate-worker.ts (own thread, batches of 100) on `hot`. */
async function saturate(url: string): Promise<{ stop(): Promise<number> }> {
  const data: SaturateData = { broker: 'ferry', ferryUrl: url, queue: 'hot', bodyBytes: BODY.byteLength, maxMs: 180_000 };
  const worker = new Worker(new URL('./saturate-worker.js', import.meta.url), { workerData: data });
  let started = (): void => undefined;
  const ready = new Promise<void>((r) => (started = r));
  const done = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: { t: string; confirmed?: number; seconds?: number }) => {
      if (m.t === 'started') started();
      if (m.t === 'done') resolve(m.confirmed! / m.seconds!);
    });
    worker.once('error', reject);
  });
  await ready;
  return {
    async stop() {
      worker.postMessage('stop');
      const rate = await done;
      await worker.terminate();
      return rate;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The light queue's send latency (LIGHT_RATE paced sends), with `hot` on the same leader:
 *   1. `--rebalance off`: alone for SECONDS, then beside the saturated hot queue for SECONDS;
 *   2. a second cluster with the rebalancer on: the same saturation until the supervisor moves
 *      one of the two queues, then SECONDS after the switch.
 */
async function isolation(): Promise<Isolation> {
  const off = await colocatedCluster(['--rebalance', 'off']);
  let light = lightLoad(off.cluster.urls());
  await sleep(SECONDS * 1000);
  const aloneTo = Date.now();
  let hot = await saturate(off.cluster.nodes[Number(off.leader.slice(1)) - 1]!.url);
  await sleep(500);
  const besideFrom = Date.now();
  await sleep(SECONDS * 1000);
  const besideTo = Date.now();
  const hotColocated = await hot.stop();
  await light.stop();
  const alone = light.sends.filter((x) => x.at < aloneTo).map((x) => x.ms);
  const beside = light.sends.filter((x) => x.at >= besideFrom && x.at < besideTo).map((x) => x.ms);
  for (const n of off.cluster.nodes) await n.cleanup();

  const on = await colocatedCluster(['--rebalance-min-rate', String(ISOLATION_MIN_RATE)]);
  light = lightLoad(on.cluster.urls());
  hot = await saturate(on.cluster.nodes[Number(on.leader.slice(1)) - 1]!.url);
  const hotFrom = Date.now();
  let movedAt = 0;
  let placement = { hot: on.leader, light: on.leader };
  while (Date.now() - hotFrom < 120_000) {
    const [h, l] = await Promise.all([queueMeta(on.cluster.etcd.url, 'hot'), queueMeta(on.cluster.etcd.url, 'light')]);
    if (h!.leader !== l!.leader) {
      movedAt = Date.now();
      placement = { hot: h!.leader, light: l!.leader };
      break;
    }
    await sleep(100);
  }
  if (movedAt === 0) throw new Error('the supervisor did not rebalance within 120 s');
  await sleep(1000); // the switch itself: requests retried on the new leader
  const apartFrom = Date.now();
  await sleep(SECONDS * 1000);
  const apartTo = Date.now();
  const hotApart = await hot.stop();
  await light.stop();
  const apart = light.sends.filter((x) => x.at >= apartFrom && x.at < apartTo).map((x) => x.ms);
  const moved = placement.light !== on.leader ? 'light' : 'hot';
  return {
    alone: figures(alone, SECONDS), colocated: figures(beside, (besideTo - besideFrom) / 1000), apart: figures(apart, (apartTo - apartFrom) / 1000),
    hotColocated, hotApart, rebalanceMs: movedAt - hotFrom, moved, from: on.leader, to: moved === 'light' ? placement.light : placement.hot,
  };
}

function row(name: string, f: Figures): string {
  return `| ${name} | ${f.sends} | ${Math.round(f.perSecond)} | ${f.p50.toFixed(2)} | ${f.p99.toFixed(2)} | ${f.p999.toFixed(2)} |`;
}

function isolationLines(r: Isolation): string[] {
  return [
    `Isolation: light queue at ${LIGHT_RATE} paced sends/s (${SECONDS} s per phase); hot queue saturated by 4 producers in their own thread (batches of 100, 10 in flight); 3 nodes, 1 shard each, acks=quorum.`,
    '',
    '| light queue | sends | sends/s | p50 ms | p99 ms | p99.9 ms |',
    '|---|---|---|---|---|---|',
    row('alone on its leader', r.alone),
    row('hot queue saturated on the same leader (--rebalance off)', r.colocated),
    row(`rebalancer on: after it moved ${r.moved} to another node`, r.apart),
    '',
    `Hot queue: ${Math.round(r.hotColocated)} msg/s while co-located (rebalance off), ${Math.round(r.hotApart)} msg/s over the rebalanced run. With --rebalance-min-rate ${ISOLATION_MIN_RATE} the supervisor moved ${r.moved} ${r.from} → ${r.to} ${(r.rebalanceMs / 1000).toFixed(1)} s after the saturation started.`,
  ];
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
  if (PHASES.has('isolation')) {
    // Its own cluster (with the rebalancer tuned for it): the one above stops first.
    for (const n of cluster.nodes) await n.cleanup();
    lines.push('', ...isolationLines(await isolation()));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  await main();
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
