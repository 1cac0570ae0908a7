// Queue semantics (issue 3) in a cluster (docs/cluster.md, "Queue semantics in a cluster"): the
// new per-queue records — dedup ids ('E') and stream group positions ('G') — are keys of the
// queue, so they replicate with it and a new leader keeps them. Moves between queues (dead-letter
// queues, redrive, the unroutable queue) are in cluster-moves.test.ts.
import t from 'tap';
import { connect } from '../src/client/index.js';
import { queueMeta, startCluster, waitFor } from './helpers/cluster.js';

t.test('dedup ids and stream group positions survive a failover', async (t) => {
  const cluster = await startCluster(t, 3);
  // The client is on n2; placement is least-loaded first, ties by node id, so 'd' and 'st' (the
  // first and fourth queue) are led by n1, which is then killed.
  const client = await connect(cluster.nodes[1]!.url, { reconnect: false, requestTimeoutMs: 30_000 });
  t.teardown(() => client.close());
  await client.request('createQueue', { queue: 'd', attributes: { dedupWindowMs: 600_000 } });
  await client.createQueue('fill-a');
  await client.createQueue('fill-b');
  await client.request('createQueue', { queue: 'st', attributes: { mode: 'stream' } });
  const d = await queueMeta(cluster.etcd.url, 'd');
  const st = await queueMeta(cluster.etcd.url, 'st');
  t.equal(d?.leader, 'n1');
  t.equal(st?.leader, 'n1');

  const first = await client.request('send', { queue: 'd', body: Buffer.from('one'), dedupId: 'k1' });
  for (const body of ['m0', 'm1', 'm2']) await client.request('send', { queue: 'st', body: Buffer.from(body) });
  await client.request('createGroup', { queue: 'st', group: 'g', start: 'earliest' });
  const got = (await client.request('receive', { queue: 'st', group: 'g', max: 2 })).messages;
  t.same(got.map((m) => Buffer.from(m.body).toString()), ['m0', 'm1']);
  for (const m of got) await client.request('delete', { queue: 'st', receipt: m.receipt });

  await cluster.nodes[0]!.kill();
  await waitFor('new leaders of d and st', async () => {
    const [nd, ns] = await Promise.all([queueMeta(cluster.etcd.url, 'd'), queueMeta(cluster.etcd.url, 'st')]);
    return nd !== undefined && ns !== undefined && nd.leader !== 'n1' && ns.leader !== 'n1' ? true : undefined;
  });

  const again = await client.request('send', { queue: 'd', body: Buffer.from('one'), dedupId: 'k1' });
  t.equal(again.duplicate, true, 'the dedup id is known to the new leader');
  t.equal(again.messageId, first.messageId, 'the first copy\'s id');
  const groups = (await client.request('listGroups', { queue: 'st' })).groups;
  t.match(groups, [{ group: 'g', committed: 2 }], 'the group and its committed position replicated');
  const rest = (await client.request('receive', { queue: 'st', group: 'g', max: 10 })).messages;
  t.same(rest.map((m) => Buffer.from(m.body).toString()), ['m2'], 'the group resumes after its committed position');
});
