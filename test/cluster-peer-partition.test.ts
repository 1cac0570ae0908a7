// A partition of the PEER LINKS only, with etcd reachable from every node (helpers/partition.ts):
// the isolated node keeps its etcd lease, so membership alone would never replace it. The nodes'
// reachability reports in etcd (src/supervisor/cluster/reachability.ts) do:
//
// 1. One link down (between the two nodes that do not supervise): each sees one peer down; nobody is cut off, nothing fails over.
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

  // Placement: the node leading the fewest queues leads the next one (n1, n2, n3 in turn): one of
  // three new queues is led by the supervisor (n1 normally: it started first).
  const supervisor = await waitFor('a supervisor', async () => (await clusterStatus(cluster.nodes[0]!))?.supervisor);
  let queue: string | undefined;
  for (const name of ['pp', 'pq', 'pr']) {
    await admin.createQueue(name);
    if ((await queueMeta(cluster.etcd.url, name))!.leader === supervisor) {
      queue = name;
      break;
    }
  }
  t.ok(queue, `queue ${queue} is led by the supervisor ${supervisor}`);
  const first = (await queueMeta(cluster.etcd.url, queue!))!;
  const [i, j] = [0, 1, 2].filter((n) => `n${n + 1}` !== supervisor);

  // 1. One link down (between the two other nodes): each reports the other; a verdict needs two
  //    witnesses of three.
  cluster.cutLink(i!, j!);
  await waitFor('both ends of the cut link to report each other unreachable', async () => {
    const [a, b] = await Promise.all([clusterStatus(cluster.nodes[i!]!), clusterStatus(cluster.nodes[j!]!)]);
    return a?.unreachable?.includes(`n${j! + 1}`) === true && b?.unreachable?.includes(`n${i! + 1}`) === true ? true : undefined;
  }, 30_000);
  await sendSome(admin, queue!, 'one-link', 10, ledger);
  const oneLink = await Promise.all(cluster.nodes.map(clusterStatus));
  t.same(oneLink.map((s) => s?.cutOff), [[], [], []], 'one link down: no node is cut off');
  t.equal((await queueMeta(cluster.etcd.url, queue!))!.epoch, first.epoch, 'one link down: no failover');
  cluster.heal();
  await waitFor('the reports to clear', async () => {
    const all = await Promise.all(cluster.nodes.map(clusterStatus));
    return all.every((s) => s?.unreachable?.length === 0) ? true : undefined;
  }, 30_000);

  // 2. The leader is the supervisor.
  await partitionLeader(t, cluster, queue!, ledger, 'supervisor');
  const elected = (await clusterStatus(cluster.nodes[i!]!))?.supervisor;
  t.ok(elected !== undefined && elected !== supervisor, `the majority elected ${elected}`);

  await checkDrained(t, admin, queue!, ledger);
});
