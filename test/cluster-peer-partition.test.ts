// A partition of the PEER LINKS only, with etcd reachable from every node (helpers/partition.ts):
// the isolated node keeps its etcd lease, so membership alone would never replace it. The nodes'
// reachability reports in etcd (src/supervisor/cluster/reachability.ts) do:
//
// 1. One link down (n2 <-> n3): each sees one peer down; nobody is cut off, nothing fails over.
// 2. The leader, which is also the supervisor, cut from both peers: it acknowledges nothing, gives up
//    the supervisor role, the majority elects a supervisor, fails the queue over and keeps
//    accepting; after healing the old leader rejoins as a follower (without a restart) and all
//    copies agree. Every acknowledged message that was not deleted is then received exactly once,
//    and nothing deleted or refused comes back.
// (test/cluster-peer-partition-leader.test.ts: a leader that is not the supervisor.)
import t from 'tap';
import { connect } from '../src/client/index.js';
import { clusterStatus, queueMeta, waitFor } from './helpers/cluster.js';
import { checkDrained, partitionLeader, sendSome, startProxiedCluster, type Ledger } from './helpers/partition.js';

t.test('peer links only: one link down changes nothing; a cut-off supervisor and leader is replaced and rejoins', async (t) => {
  const cluster = await startProxiedCluster(t);
  const admin = await connect(cluster.nodes.map((n) => n.url), { requestTimeoutMs: 30_000 });
  t.teardown(() => admin.close());
  const ledger: Ledger = { acked: new Set(), deleted: new Set() };

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
  await sendSome(admin, 'pp', 'one-link', 10, ledger);
  const oneLink = await Promise.all(cluster.nodes.map(clusterStatus));
  t.same(oneLink.map((s) => s?.cutOff), [[], [], []], 'one link down: no node is cut off');
  t.equal((await queueMeta(cluster.etcd.url, 'pp'))!.epoch, first.epoch, 'one link down: no failover');
  cluster.heal();
  await waitFor('the reports to clear', async () => {
    const all = await Promise.all(cluster.nodes.map(clusterStatus));
    return all.every((s) => s?.unreachable?.length === 0) ? true : undefined;
  }, 30_000);

  // 2. The leader is the supervisor.
  await partitionLeader(t, cluster, 'pp', ledger, 'supervisor');
  const supervisor = (await clusterStatus(cluster.nodes[1]!))?.supervisor;
  t.not(supervisor, 'n1', `the majority elected ${supervisor}`);

  await checkDrained(t, admin, 'pp', ledger);
});
