/**
 * A real Ferry cluster for tests: one etcd (helpers/etcd.ts) and N broker processes
 * (helpers/broker.ts) started with --cluster-etcd and --node-id n1..nN, all on loopback.
 */
import { BrokerProcess, type BrokerOptions } from './broker.js';
import { startEtcd, type EtcdProcess } from './etcd.js';

export interface TestCluster {
  etcd: EtcdProcess;
  nodes: BrokerProcess[];
  /** Client URLs of every node (the SDK's seed list). */
  urls(): string[];
}

export async function startCluster(
  t: { teardown(fn: () => unknown): void },
  size: number,
  opts: BrokerOptions = {},
): Promise<TestCluster> {
  const etcd = await startEtcd(t);
  const nodes: BrokerProcess[] = [];
  for (let i = 1; i <= size; i++) {
    const node = new BrokerProcess({
      shards: 1,
      ...opts,
      args: ['--cluster-etcd', etcd.url, '--node-id', `n${i}`, ...(opts.args ?? [])],
    });
    // Registered before start so a failed start is cleaned up too; brokers stop before etcd does.
    t.teardown(() => node.cleanup());
    nodes.push(node);
  }
  await Promise.all(nodes.map((n) => n.start()));
  return { etcd, nodes, urls: () => nodes.map((n) => n.url) };
}
