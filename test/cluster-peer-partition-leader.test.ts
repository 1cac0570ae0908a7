// A partition of the peer links only (etcd reachable) of a queue's leader that is NOT the cluster
// supervisor: the supervisor fails the queue over, the cut-off leader acknowledges nothing and
// rejoins as a follower after healing; all copies agree, every acknowledged message not deleted is
// received exactly once, nothing deleted comes back. (test/cluster-peer-partition.test.ts: one link
// down, and a leader that is the supervisor.)
import t from 'tap';
import { connect } from '../src/client/index.js';
import { clusterStatus, queueMeta } from './helpers/cluster.js';
import { checkDrained, partitionLeader, startProxiedCluster, type Ledger } from './helpers/partition.js';

t.test('peer links only: a cut-off leader that is not the supervisor is replaced and rejoins', async (t) => {
  const cluster = await startProxiedCluster(t);
  const admin = await connect(cluster.nodes.map((n) => n.url), { requestTimeoutMs: 30_000 });
  t.teardown(() => admin.close());
  // Placement: the node leading the fewest queues leads the next one: n1, then n2.
  await admin.createQueue('pa');
  await admin.createQueue('pb');
  const pb = (await queueMeta(cluster.etcd.url, 'pb'))!;
  const supervisor = (await clusterStatus(cluster.nodes[0]!))?.supervisor;
  t.equal(supervisor, 'n1', 'n1 supervises');
  t.not(pb.leader, supervisor, `pb's leader ${pb.leader} is not the supervisor`);
  const ledger: Ledger = { acked: new Set(), deleted: new Set() };
  await partitionLeader(t, cluster, 'pb', ledger, 'non-supervisor');
  t.equal((await clusterStatus(cluster.nodes[0]!))?.supervisor, 'n1', 'the supervisor did not change');
  await checkDrained(t, admin, 'pb', ledger);
});
