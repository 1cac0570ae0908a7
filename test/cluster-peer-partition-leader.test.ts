// A partition of the peer links only (etcd reachable) of a queue's leader that is NOT the cluster
// supervisor: the supervisor fails the queue over, the cut-off leader acknowledges nothing and
// rejoins as a follower after healing; all copies agree, every acknowledged message not deleted is
// received exactly once, nothing deleted comes back. (test/cluster-peer-partition.test.ts: one link
// down, and a leader that is the supervisor.)
import t from 'tap';
import { connect } from '../src/client/index.js';
import { clusterStatus, queueMeta, waitFor } from './helpers/cluster.js';
import { checkDrained, partitionLeader, startProxiedCluster, type Ledger } from './helpers/partition.js';

t.test('peer links only: a cut-off leader that is not the supervisor is replaced and rejoins', async (t) => {
  const cluster = await startProxiedCluster(t);
  const admin = await connect(cluster.nodes.map((n) => n.url), { requestTimeoutMs: 30_000 });
  t.teardown(() => admin.close());
  // Placement: the node leading the fewest queues leads the next one (n1, then n2), so one of the
  // two is led by a node that is not the supervisor.
  await admin.createQueue('pa');
  await admin.createQueue('pb');
  const supervisor = await waitFor('a supervisor', async () => (await clusterStatus(cluster.nodes[0]!))?.supervisor);
  const metas = await Promise.all(['pa', 'pb'].map(async (q) => ({ q, meta: (await queueMeta(cluster.etcd.url, q))! })));
  const target = metas.find((m) => m.meta.leader !== supervisor)!;
  t.ok(target, `${target.q}'s leader ${target.meta.leader} is not the supervisor ${supervisor}`);
  const ledger: Ledger = { acked: new Set(), deleted: new Set() };
  await partitionLeader(t, cluster, target.q, ledger, 'non-supervisor');
  const after = await Promise.all(cluster.nodes.map(clusterStatus));
  t.same(after.map((s) => s?.supervisor), [supervisor, supervisor, supervisor], 'the supervisor did not change');
  await checkDrained(t, admin, target.q, ledger);
});
