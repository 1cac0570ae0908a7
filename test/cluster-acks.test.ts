// The `acks` policy of a queue in a cluster: validated on createQueue, part of the queue's
// identity (a different value is QueueAlreadyExists), and enforced: with both followers dead a
// queue with acks=leader still acknowledges sends, one with acks=quorum refuses them with the
// retryable NotEnoughReplicas instead of claiming a durability it does not have.
import t from 'tap';
import { connect, FerryError } from '../src/client/index.js';
import { queueMeta, startCluster } from './helpers/cluster.js';

t.test('acks: validation, identity, and leader vs quorum with both followers dead', async (t) => {
  const cluster = await startCluster(t, 3);
  const client = await connect(cluster.nodes[0]!.url, { reconnect: false, requestTimeoutMs: 30_000 });
  t.teardown(() => client.close());

  await t.rejects(client.request('createQueue', { queue: 'bad', acks: 'most' as 'all' }), { code: 'InvalidField', field: 'acks' });

  // Placement is least-loaded first, ties by node id: four queues lead on n1, n2, n3, n1.
  await client.request('createQueue', { queue: 'x-quorum' });
  await client.createQueue('x-b');
  await client.createQueue('x-c');
  await client.request('createQueue', { queue: 'x-leader', acks: 'leader' });
  const q = await queueMeta(cluster.etcd.url, 'x-quorum');
  const l = await queueMeta(cluster.etcd.url, 'x-leader');
  t.equal(q?.leader, 'n1');
  t.equal(l?.leader, 'n1');
  t.same(l?.replicas.slice().sort(), ['n1', 'n2', 'n3'], 'three replicas');

  t.equal((await client.request('createQueue', { queue: 'x-leader', acks: 'leader' })).created, false, 'same acks: idempotent');
  await t.rejects(client.request('createQueue', { queue: 'x-leader', acks: 'quorum' }), { code: 'QueueAlreadyExists', field: 'acks' });

  await client.queue('x-quorum').send('before');
  await cluster.nodes[1]!.kill();
  await cluster.nodes[2]!.kill();

  const sent = await client.queue('x-leader').send('alone');
  t.ok(sent.messageId, 'acks=leader: acknowledged by the leader alone');
  const err = await client.queue('x-quorum').send('needs a follower').then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof FerryError, 'acks=quorum: refused');
  t.equal((err as FerryError).code, 'NotEnoughReplicas');
  t.equal((err as FerryError).retryable, true);
});
