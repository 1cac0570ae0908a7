// A partition of the PEER LINKS only, with etcd reachable from every node (helpers/partition.ts):
// the isolated node keeps its etcd lease, so membership alone would never replace it. The nodes'
// reachability reports in etcd (src/supervisor/cluster/reachability.ts) do:
//
// 1. One link down (n2 ↔ n3): each sees one peer down; nobody is cut off, nothing fails over.
// 2. The leader, which is also the supervisor, cut from both peers: it acknowledges nothing, gives up
//    the supervisor role, the majority elects a supervisor and fails the queue over and keeps
//    accepting; after healing the old leader rejoins as a follower (without a restart) and all
//    copies agree.
// 3. A leader that is not the supervisor, the same way.
// Then every acknowledged message that was not deleted is received exactly once, and nothing
// deleted or refused comes back.
import t, { type Test } from 'tap';
import { connect, FerryError, type FerryClient } from '../src/client/index.js';
import { clusterStatus, queueMeta, waitFor } from './helpers/cluster.js';
import { countOf, drainQueue } from './helpers/drain.js';
import { startProxiedCluster, type ProxiedCluster } from './helpers/partition.js';

const REFUSALS = ['NotEnoughReplicas', 'NotLeader', 'PeerUnavailable'];

interface Ledger {
  acked: Set<string>;
  deleted: Set<string>;
}

/** Sends `count` messages in sequence; returns each acknowledgement's time. */
async function sendSome(client: FerryClient, queue: string, prefix: string, count: number, ledger: Ledger): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    await client.queue(queue).send(`${prefix}-${i}`);
    ledger.acked.add(`${prefix}-${i}`);
    times.push(Date.now());
  }
  return times;
}

/** Receives up to `count` and deletes them (they must never come back). */
async function deleteSome(client: FerryClient, queue: string, count: number, ledger: Ledger): Promise<void> {
  const msgs = await client.queue(queue).receive({ max: count, visibilityMs: 60_000 });
  const results = await client.queue(queue).deleteBatch(msgs.map((m) => m.receipt));
  for (const [i, m] of msgs.entries()) {
    const r = results[i]!;
    if ('ok' in r && r.ok.deleted) ledger.deleted.add(Buffer.from(m.body).toString());
  }
}

async function marksAgree(cluster: ProxiedCluster, queue: string): Promise<{ epoch: number; seq: number }> {
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
async function partitionLeader(t: Test, cluster: ProxiedCluster, queue: string, ledger: Ledger, label: string): Promise<void> {
  const before = (await queueMeta(cluster.etcd.url, queue))!;
  const k = Number(before.leader.slice(1)) - 1;
  const others = [0, 1, 2].filter((i) => i !== k);
  const majority = await connect(others.map((i) => cluster.nodes[i]!.url), { requestTimeoutMs: 30_000 });
  const isolated = await connect(cluster.nodes[k]!.url, { reconnect: false, requestTimeoutMs: 30_000 });
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

t.test('peer links only: one link down changes nothing; a cut-off leader is replaced and rejoins', async (t) => {
  const cluster = await startProxiedCluster(t);
  const admin = await connect(cluster.nodes.map((n) => n.url), { requestTimeoutMs: 30_000 });
  t.teardown(() => admin.close());
  const ledger: Record<string, Ledger> = {};
  const ledgerOf = (q: string): Ledger => (ledger[q] ??= { acked: new Set(), deleted: new Set() });

  await admin.createQueue('pp');
  const first = (await queueMeta(cluster.etcd.url, 'pp'))!;
  const start = await clusterStatus(cluster.nodes[0]!);
  t.equal(start?.supervisor, 'n1', 'n1 supervises');
  t.equal(first.leader, 'n1', 'and leads the first queue');

  // 1. One link down: n2 and n3 each report the other; a verdict needs two witnesses of three.
  cluster.cutLink(1, 2);
  await waitFor('n2 and n3 to report each other unreachable', async () => {
    const [s2, s3] = await Promise.all([clusterStatus(cluster.nodes[1]!), clusterStatus(cluster.nodes[2]!)]);
    return s2?.unreachable?.includes('n3') === true && s3?.unreachable?.includes('n2') === true ? true : undefined;
  }, 30_000);
  await sendSome(admin, 'pp', 'one-link', 10, ledgerOf('pp'));
  const oneLink = await Promise.all(cluster.nodes.map(clusterStatus));
  t.same(oneLink.map((s) => s?.cutOff), [[], [], []], 'one link down: no node is cut off');
  t.equal((await queueMeta(cluster.etcd.url, 'pp'))!.epoch, first.epoch, 'one link down: no failover');
  cluster.heal();
  await waitFor('the reports to clear', async () => {
    const all = await Promise.all(cluster.nodes.map(clusterStatus));
    return all.every((s) => s?.unreachable?.length === 0) ? true : undefined;
  }, 30_000);

  // 2. The leader is the supervisor.
  await partitionLeader(t, cluster, 'pp', ledgerOf('pp'), 'supervisor');
  const supervisor = (await clusterStatus(cluster.nodes[1]!))?.supervisor;
  t.not(supervisor, 'n1', `the majority elected ${supervisor}`);

  // 3. A leader that is not the supervisor (placement: the node that leads the fewest queues).
  await admin.createQueue('pq');
  const pq = (await queueMeta(cluster.etcd.url, 'pq'))!;
  t.not(pq.leader, supervisor, `pq's leader ${pq.leader} is not the supervisor`);
  await partitionLeader(t, cluster, 'pq', ledgerOf('pq'), 'follower-of-supervisor');

  for (const queue of ['pp', 'pq']) {
    const { acked, deleted } = ledgerOf(queue);
    const drained = await drainQueue(admin, queue);
    const counts = countOf(drained.map((d) => d.body));
    const expected = [...acked].filter((b) => !deleted.has(b));
    t.same(expected.filter((b) => counts.get(b) !== 1), [], `${queue}: every acknowledged message not deleted is received exactly once (${expected.length})`);
    t.same([...counts.keys()].filter((b) => deleted.has(b)), [], `${queue}: no deleted message comes back (${deleted.size} deleted)`);
    t.same([...counts.keys()].filter((b) => b.includes('-isolated-')), [], `${queue}: nothing the isolated leader refused is there`);
  }
});
