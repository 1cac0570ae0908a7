/**
 * A three-node cluster whose network can be cut for partition tests: every node has its own
 * loopback address (127.0.0.1x; its outgoing peer links leave from it), a fault-injecting proxy
 * (fault-proxy.ts) in front of its peer port, and a proxy of its own in front of etcd. So a node
 * can be cut from its peers only, or from its peers and etcd, or one link between two nodes can go.
 */
import { BrokerProcess, freePort } from './broker.js';
import { startEtcd, type EtcdProcess } from './etcd.js';
import { FaultProxy } from './fault-proxy.js';

export interface ProxiedCluster {
  etcd: EtcdProcess;
  hosts: string[];
  nodes: BrokerProcess[];
  /** Cuts node k from both other nodes' peer links (both directions); from etcd too with `etcd: true`. */
  isolate(k: number, opts?: { etcd?: boolean }): void;
  /** Cuts the peer links between nodes i and j only (both directions). */
  cutLink(i: number, j: number): void;
  /** Every cut heals. */
  heal(): void;
}

export async function startProxiedCluster(t: { teardown(fn: () => unknown): void }, size = 3): Promise<ProxiedCluster> {
  const etcd = await startEtcd(t);
  const etcdPort = Number(new URL(etcd.url).port);
  const hosts = Array.from({ length: size }, (_, i) => `127.0.0.${11 + i}`);
  const nodes: BrokerProcess[] = [];
  const etcdProxies: FaultProxy[] = [];
  const peerProxies: FaultProxy[] = [];
  for (const [i, host] of hosts.entries()) {
    const port = await freePort();
    const etcdProxy = new FaultProxy('127.0.0.1', '127.0.0.1', etcdPort);
    const peerProxy = new FaultProxy(host, host, port);
    await etcdProxy.listen();
    await peerProxy.listen();
    t.teardown(() => etcdProxy.close());
    t.teardown(() => peerProxy.close());
    const node = new BrokerProcess({
      host, shards: 1,
      args: ['--cluster-etcd', `http://127.0.0.1:${etcdProxy.port}`, '--node-id', `n${i + 1}`, '--advertise-url', `ws://${host}:${peerProxy.port}`],
    });
    node.port = port;
    t.teardown(() => node.cleanup());
    nodes.push(node);
    etcdProxies.push(etcdProxy);
    peerProxies.push(peerProxy);
  }
  // n1 first: it wins the supervisor election (the tests then know who supervises).
  await nodes[0]!.start();
  await Promise.all(nodes.slice(1).map((n) => n.start()));
  return {
    etcd, hosts, nodes,
    isolate(k, opts = {}) {
      if (opts.etcd === true) etcdProxies[k]!.cut();
      peerProxies[k]!.cut();
      for (const [i, p] of peerProxies.entries()) if (i !== k) p.cut(hosts[k]!);
    },
    cutLink(i, j) {
      peerProxies[i]!.cut(hosts[j]!);
      peerProxies[j]!.cut(hosts[i]!);
    },
    heal() {
      for (const p of [...etcdProxies, ...peerProxies]) p.heal();
    },
  };
}
