/**
 * A three-node cluster whose network can be cut for partition tests: every node has its own
 * loopback address (127.0.0.1x; its outgoing peer links leave from it), a fault-injecting proxy
 * (fault-proxy.ts) in front of its peer port, and a proxy of its own in front of etcd. So a node
 * can be cut from its peers only, or from its peers and etcd, or one link between two nodes can go.
 * Plus the steps the peer-partition tests share: send/delete with a ledger, cut a leader off and
 * check the outcome, and the final drain.
 */
import type { Test } from 'tap';
import { connect, type FerryClient, type FerryError } from '../../src/client/index.js';
import { BrokerProcess } from './broker.js';
import { freePort } from '../../loadtest/free-port.js';
import { clusterStatus, queueMeta, waitFor } from './cluster.js';
import { countOf, drainQueue } from './drain.js';
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

// ── shared steps of the peer-partition tests ─────────────────────────────────

const REFUSALS = ['NotEnoughReplicas', 'NotLeader', 'PeerUnavailable'];

export interface Ledger {
  acked: Set<string>;
  deleted: Set<string>;
}

/** Sends `count` messages in sequence; returns each acknowledgement's time. */
export async function sendSome(client: FerryClient, queue: string, prefix: string, count: number, ledger: Ledger): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    await client.queue(queue).send(`${prefix}-${i}`);
    ledger.acked.add(`${prefix}-${i}`);
    times.push(Date.now());
  }
  return times;
}

/** Receives up to `count` and deletes them (they must never come back). */
export async function deleteSome(client: FerryClient, queue: string, count: number, ledger: Ledger): Promise<void> {
  const msgs = await client.queue(queue).receive({ max: count, visibilityMs: 60_000 });
  const results = await client.queue(queue).deleteBatch(msgs.map((m) => m.receipt));
  for (const [i, m] of msgs.entries()) {
    const r = results[i]!;
    if ('ok' in r && r.ok.deleted) ledger.deleted.add(Buffer.from(m.body).toString());
  }
}

export async function marksAgree(cluster: ProxiedCluster, queue: string): Promise<{ epoch: number; seq: number }> {
  return waitFor(`all three copies of ${queue} to agree`, async () => {
    const all = await Promise.all(cluster.nodes.map(clusterStatus));
    const marks = all.map((s) => s?.queues.find((q) => q.name === queue)?.mark);
    if (marks.some((m) => m === undefined)) return undefined;
    return marks.every((m) => m!.epoch === marks[0]!.epoch && m!.seq === marks[0]!.seq) ? marks[0]! : undefined;
  }, 30_000);
}

/**
 * Cuts node k's peer links while a producer on the majority side keeps sending; checks that k
 * acknowledges nothing, the majority fails over, and k rejoins as a follower after healing.
 */
export async function partitionLeader(t: Test, cluster: ProxiedCluster, queue: string, ledger: Ledger, label: string): Promise<void> {
  const before = (await queueMeta(cluster.etcd.url, queue))!;
  const k = Number(before.leader.slice(1)) - 1;
  const others = [0, 1, 2].filter((i) => i !== k);
  const majority = await connect(others.map((i) => cluster.nodes[i]!.url), { requestTimeoutMs: 30_000 });
  // Closed whatever happens: a client left open keeps reconnecting and the test process alive.
  const isolated = await connect(cluster.nodes[k]!.url, { reconnect: false, requestTimeoutMs: 30_000 }).catch(async (err: unknown) => {
    await majority.close();
    throw err;
  });
  try {
    await sendSome(majority, queue, `${label}-before`, 30, ledger);
    await deleteSome(majority, queue, 10, ledger);

    const cutAt = Date.now();
    cluster.isolate(k);
    const refused = Promise.allSettled([0, 1, 2].map((i) => isolated.queue(queue).send(`${label}-isolated-${i}`)));
    const newLeader = waitFor('a new leader on the majority side', async () => {
      const m = await queueMeta(cluster.etcd.url, queue);
      return m !== undefined && m.epoch > before.epoch && m.leader !== before.leader ? { m, at: Date.now() } : undefined;
    }, 30_000);
    // The producer starts with the cut: its first acknowledgement measures the failover it sees.
    const ackTimes = await sendSome(majority, queue, `${label}-during`, 30, ledger);
    await deleteSome(majority, queue, 10, ledger);
    const promoted = await newLeader;
    t.comment(`${label}: new leader ${promoted.m.leader} in etcd ${promoted.at - cutAt} ms after the cut; first send acknowledged after ${ackTimes[0]! - cutAt} ms`);
    t.not(promoted.m.leader, before.leader, `${label}: the majority promoted ${promoted.m.leader} (epoch ${promoted.m.epoch})`);

    const onTheIsolatedSide = await refused;
    t.same(onTheIsolatedSide.map((r) => r.status), ['rejected', 'rejected', 'rejected'], `${label}: the isolated old leader acknowledges nothing`);
    for (const r of onTheIsolatedSide) {
      const code = r.status === 'rejected' ? (r.reason as FerryError).code : 'none';
      t.ok(REFUSALS.includes(code), `${label}: refused with ${code}`);
    }
    const seen = await clusterStatus(cluster.nodes[k]!);
    t.ok(seen?.cutOff?.includes(`n${k + 1}`), `${label}: the isolated node reads its own verdict in etcd`);
    t.equal(seen?.queues.find((q) => q.name === queue)?.role, 'follower', `${label}: and leads nothing`);
    t.not(seen?.supervisor, `n${k + 1}`, `${label}: it is not the supervisor`);
    t.ok(cluster.nodes[k]!.running, `${label}: it still runs (its lease never lapsed)`);

    cluster.heal();
    await sendSome(majority, queue, `${label}-healed`, 5, ledger);
    await waitFor(`${label}: the verdict to clear everywhere`, async () => {
      const all = await Promise.all(cluster.nodes.map(clusterStatus));
      return all.every((s) => s !== undefined && s.cutOff !== undefined && s.cutOff.length === 0) ? true : undefined;
    }, 30_000);
    const mark = await marksAgree(cluster, queue);
    t.comment(`${label}: marks after healing ${JSON.stringify(mark)}`);
    const rejoined = await clusterStatus(cluster.nodes[k]!);
    t.equal(rejoined?.queues.find((q) => q.name === queue)?.role, 'follower', `${label}: the old leader rejoined as a follower`);
  } finally {
    await isolated.close();
    await majority.close();
  }
}

/** After the partitions: every acknowledged message not deleted is there exactly once, nothing deleted or refused. */
export async function checkDrained(t: Test, client: FerryClient, queue: string, ledger: Ledger): Promise<void> {
  const drained = await drainQueue(client, queue);
  const counts = countOf(drained.map((d) => d.body));
  const expected = [...ledger.acked].filter((b) => !ledger.deleted.has(b));
  t.same(expected.filter((b) => counts.get(b) !== 1), [], `${queue}: every acknowledged message not deleted is received exactly once (${expected.length})`);
  t.same([...counts.keys()].filter((b) => ledger.deleted.has(b)), [], `${queue}: no deleted message comes back (${ledger.deleted.size} deleted)`);
  t.same([...counts.keys()].filter((b) => b.includes('-isolated-')), [], `${queue}: nothing the isolated leader refused is there`);
}
