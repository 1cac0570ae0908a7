/**
 * A real Ferry cluster for tests: one etcd (helpers/etcd.ts) and N broker processes
 * (helpers/broker.ts) started with --cluster-etcd and --node-id n1..nN, all on loopback.
 */
import { join } from 'node:path';
import { ShardStore } from '../../src/storage/shard-store.js';
import { BrokerProcess, type BrokerOptions } from './broker.js';
import { startEtcd, type EtcdProcess } from './etcd.js';
import { poll } from './bounded.js';

export interface TestCluster {
  etcd: EtcdProcess;
  nodes: BrokerProcess[];
  /** Client URLs of every node (the SDK's seed list). */
  urls(): string[];
  /** Starts one more node, n<size+1>, with the cluster's options (a node joining). */
  addNode(): Promise<BrokerProcess>;
}

export async function startCluster(
  t: { teardown(fn: () => unknown): void },
  size: number,
  opts: BrokerOptions = {},
): Promise<TestCluster> {
  const etcd = await startEtcd(t);
  const nodes: BrokerProcess[] = [];
  const make = (): BrokerProcess => {
    const node = new BrokerProcess({
      shards: 1,
      ...opts,
      args: ['--cluster-etcd', etcd.url, '--node-id', `n${nodes.length + 1}`, ...(opts.args ?? [])],
    });
    // Registered before start so a failed start is cleaned up too; brokers stop before etcd does.
    t.teardown(() => node.cleanup());
    nodes.push(node);
    return node;
  };
  for (let i = 1; i <= size; i++) make();
  await Promise.all(nodes.map((n) => n.start()));
  return {
    etcd, nodes, urls: () => nodes.map((n) => n.url),
    async addNode() {
      const node = make();
      await node.start();
      return node;
    },
  };
}

/** The queue's record in etcd (leader, epoch, replicas), read directly from etcd. */
export interface EtcdQueueRecord {
  name: string;
  id: string;
  leader: string;
  epoch: number;
  replicas: string[];
  learners?: string[];
  attributes: Record<string, unknown>;
}

/** Every queue's record in etcd. */
export async function allQueueMetas(etcdUrl: string): Promise<EtcdQueueRecord[]> {
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({ hosts: etcdUrl });
  try {
    const all = await client.getAll().prefix('/ferry/queues/').strings();
    return Object.values(all).map((v) => JSON.parse(v) as EtcdQueueRecord);
  } finally {
    client.close();
  }
}

export async function queueMeta(etcdUrl: string, name: string): Promise<EtcdQueueRecord | undefined> {
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({ hosts: etcdUrl });
  try {
    const text = await client.get(`/ferry/queues/${name}`).string();
    return text === null ? undefined : (JSON.parse(text) as EtcdQueueRecord);
  } finally {
    client.close();
  }
}

/** One queue as a node's GET /cluster reports it. */
export interface NodeQueueStatus {
  name: string;
  id: string;
  leader: string;
  epoch: number;
  role: 'leader' | 'follower' | 'none';
  attributes?: Record<string, unknown>;
  mark?: { epoch: number; seq: number };
}

/** A node's GET /cluster (undefined when it does not answer). */
export interface NodeStatus {
  node: string;
  supervisor?: string;
  nodes: string[];
  leaseSafe: boolean;
  cutOff?: string[];
  unreachable?: string[];
  queues: NodeQueueStatus[];
}

export async function clusterStatus(node: BrokerProcess): Promise<NodeStatus | undefined> {
  try {
    const res = await fetch(`${node.httpUrl}/cluster`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as NodeStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `check` every 100 ms until it returns a value other than undefined, or fails after `timeoutMs`. */
export function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  return poll(what, check, { timeoutMs, intervalMs: 100 });
}

/**
 * Waits until every node sees all of them as members. Placement (least-loaded node, ties by node
 * id) is then the same whichever node supervises, so tests know which node leads a new queue.
 */
export async function waitForMembers(cluster: TestCluster): Promise<void> {
  const size = cluster.nodes.length;
  await waitFor(`all ${size} nodes to see each other`, async () => {
    const views = await Promise.all(cluster.nodes.map(clusterStatus));
    return views.every((v) => v !== undefined && v.nodes.length === size) ? true : undefined;
  });
}

/** Every key (and value) of queue `qid` in a stopped node's store (a node of one shard). */
export async function storedQueueKeys(node: BrokerProcess, qid: string): Promise<Array<[Buffer, Buffer]>> {
  const store = await ShardStore.open(join(node.dataDir, 'shard-0'));
  try {
    return store.readQueueKeys(qid);
  } finally {
    await store.close();
  }
}
