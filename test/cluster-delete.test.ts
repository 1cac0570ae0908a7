// deleteQueue in a cluster: every replica, followers included, forgets its copy of the queue (no
// key of the queue id is left in any node's RocksDB, replication mark included), also a replica
// that was down when the queue was deleted; and the name can be created again.
import t from 'tap';
import { connect } from '../src/client/index.js';
import type { BrokerProcess } from './helpers/broker.js';
import { clusterStatus, queueMeta, startCluster, storedQueueKeys, waitFor } from './helpers/cluster.js';
import { drainQueue } from './helpers/drain.js';

/** Every key of queue `qid` in a stopped node's store (shards: 1). */
async function keysOf(node: BrokerProcess, qid: string): Promise<number> {
  return (await storedQueueKeys(node, qid)).length;
}

t.test('deleteQueue removes every replica\'s copy; the name can be created again', async (t) => {
  const cluster = await startCluster(t, 3);
  const client = await connect(cluster.urls(), { requestTimeoutMs: 30_000 });
  t.teardown(() => client.close());

  // Two queues: one deleted while all replicas run, one while a follower is down.
  for (const name of ['gone', 'gone-later']) {
    await client.createQueue(name);
    for (let i = 0; i < 20; i++) await client.queue(name).send(`m-${i}`, { dedupId: `d-${i}` });
    const got = await client.queue(name).receive({ max: 5 });
    await client.queue(name).deleteBatch(got.map((m) => m.receipt));
  }
  const gone = (await queueMeta(cluster.etcd.url, 'gone'))!;
  const later = (await queueMeta(cluster.etcd.url, 'gone-later'))!;
  t.equal(gone.replicas.length, 3, 'three replicas');
  // Every copy holds the queue before the deletion (the same mark everywhere).
  await waitFor('every replica to hold both queues', async () => {
    const all = await Promise.all(cluster.nodes.map(clusterStatus));
    const marks = all.flatMap((s) => s?.queues.filter((q) => q.name.startsWith('gone')).map((q) => q.mark?.seq ?? 0) ?? []);
    return marks.length === 6 && marks.every((m) => m > 0) ? true : undefined;
  });

  const down = cluster.nodes.findIndex((_, i) => `n${i + 1}` !== later.leader);
  await cluster.nodes[down]!.stop();
  await client.deleteQueue('gone');
  await client.deleteQueue('gone-later');
  t.same((await client.listQueues()).queues, [], 'no queue is listed');
  await cluster.nodes[down]!.start();
  await waitFor('every node to drop both queues from its view', async () => {
    const all = await Promise.all(cluster.nodes.map(clusterStatus));
    return all.every((s) => s !== undefined && s.queues.length === 0) ? true : undefined;
  });

  // Stop every node cleanly and look into each store.
  for (const node of cluster.nodes) await node.stop();
  for (const [i, node] of cluster.nodes.entries()) {
    t.equal(await keysOf(node, gone.id), 0, `n${i + 1} keeps no key of the deleted queue`);
    t.equal(await keysOf(node, later.id), 0, `n${i + 1} keeps no key of the queue deleted while ${i === down ? 'it' : `n${down + 1}`} was down`);
  }
  await Promise.all(cluster.nodes.map((n) => n.start()));

  const again = await client.createQueue('gone');
  t.equal(again.created, true, 'the name is created again');
  const fresh = (await queueMeta(cluster.etcd.url, 'gone'))!;
  t.not(fresh.id, gone.id, 'as a new incarnation');
  await client.queue('gone').send('new-life', { dedupId: 'd-1' });
  const drained = await drainQueue(client, 'gone');
  t.same(drained.map((d) => d.body), ['new-life'], 'only the new message is there (the old dedup ids are gone too)');
});
