// setQueueAttributes in a cluster: the change reaches the queue's record in etcd (so every node's
// cache has it), and survives a kill -9 of the leader: the new leader serves the new attributes and
// its own later changes reach etcd too. Plus the record writer's rules (attribute-record.ts) on a
// fake etcd: chained writes, compare-and-swap retries, leadership lost, queue gone.
import t from 'tap';
import { connect } from '../src/client/index.js';
import { AttributeRecords } from '../src/supervisor/cluster/attribute-record.js';
import type { QueueMeta } from '../src/supervisor/cluster/meta.js';
import { DEFAULT_QUEUE_ATTRIBUTES, type QueueAttributes } from '../src/protocol/ops.js';
import { clusterStatus, queueMeta, startCluster, waitFor } from './helpers/cluster.js';

t.test('attribute changes reach etcd and every node, and survive a failover', async (t) => {
  const cluster = await startCluster(t, 3);
  const client = await connect(cluster.urls(), { requestTimeoutMs: 30_000 });
  t.teardown(() => client.close());
  await client.createQueue('attrs', { visibilityMs: 10_000 });
  const before = (await queueMeta(cluster.etcd.url, 'attrs'))!;
  const leader = Number(before.leader.slice(1)) - 1;
  const other = cluster.nodes.findIndex((_, i) => i !== leader);

  // Through a node that does not lead the queue (forwarded to the leader).
  const via = await connect(cluster.nodes[other]!.url, { reconnect: false });
  t.teardown(() => via.close());
  const set = await via.setQueueAttributes('attrs', { visibilityMs: 45_000, receiveWaitMs: 500 });
  t.equal(set.visibilityMs, 45_000, 'the leader applied it');
  const record = (await queueMeta(cluster.etcd.url, 'attrs'))!;
  t.match(record.attributes, { visibilityMs: 45_000, receiveWaitMs: 500 }, 'the etcd record has the new attributes when the call returns');
  t.equal(record.epoch, before.epoch, 'same epoch (no leadership change)');
  await waitFor('every node\'s cache to have them', async () => {
    const all = await Promise.all(cluster.nodes.map(clusterStatus));
    return all.every((s) => s?.queues.find((q) => q.name === 'attrs')?.attributes?.visibilityMs === 45_000) ? true : undefined;
  });
  await via.close();

  await cluster.nodes[leader]!.kill();
  const after = await waitFor('a new leader', async () => {
    const m = await queueMeta(cluster.etcd.url, 'attrs');
    return m !== undefined && m.epoch > before.epoch ? m : undefined;
  }, 30_000);
  const served = await client.getQueueAttributes('attrs');
  t.match(served.attributes, { visibilityMs: 45_000, receiveWaitMs: 500 }, `the new leader ${after.leader} serves the new attributes`);
  t.match(after.attributes, { visibilityMs: 45_000 }, 'the record kept them through the failover');

  await client.setQueueAttributes('attrs', { visibilityMs: 20_000 });
  t.match((await queueMeta(cluster.etcd.url, 'attrs'))!.attributes, { visibilityMs: 20_000, receiveWaitMs: 500 }, 'the new leader writes its changes to etcd');

  await cluster.nodes[leader]!.start();
  await waitFor('the restarted node to cache the latest attributes', async () => {
    const s = await clusterStatus(cluster.nodes[leader]!);
    return s?.queues.find((q) => q.name === 'attrs')?.attributes?.visibilityMs === 20_000 ? true : undefined;
  });
  const msg = await client.queue('attrs').send('x');
  t.ok(msg.messageId, 'the queue still serves sends');
});

/** A fake etcd record with a revision; `update` compares the revision the cache saw. */
function fakeEtcd(meta: QueueMeta): {
  ports: ConstructorParameters<typeof AttributeRecords>[0];
  record: () => QueueMeta;
  setLeader: (leader: string) => void;
  remove: () => void;
  writes: number;
} {
  let stored: QueueMeta | undefined = meta;
  let revision = 1;
  let cached: { meta: QueueMeta | undefined; revision: number } = { meta, revision };
  const state = { writes: 0 };
  // The cache follows etcd a moment later, as a watch does.
  const watch = (): void => void setTimeout(() => (cached = { meta: stored, revision }), 5);
  return {
    ports: {
      self: 'n1',
      current: () => cached.meta,
      update: async (next) => {
        if (cached.revision !== revision) return false;
        stored = next;
        revision++;
        state.writes++;
        watch();
        return true;
      },
    },
    record: () => stored!,
    setLeader: (leader) => {
      stored = { ...stored!, leader, epoch: stored!.epoch + 1 };
      revision++;
      watch();
    },
    remove: () => {
      stored = undefined;
      revision++;
      watch();
    },
    get writes() {
      return state.writes;
    },
  };
}

const META: QueueMeta = { name: 'q', id: '0123456789abcdef', attributes: {}, createdAt: 1, replicas: ['n1', 'n2', 'n3'], leader: 'n1', epoch: 1, acks: 'quorum' };
const attrs = (visibilityMs: number): QueueAttributes => ({ ...DEFAULT_QUEUE_ATTRIBUTES, visibilityMs });

t.test('record writer: chained in order, retries a stale revision, skips what is already there', async (t) => {
  const etcd = fakeEtcd(META);
  const records = new AttributeRecords(etcd.ports);
  // Three writes at once: the second and third meet a revision the cache has not seen yet.
  const outcomes = await Promise.all([records.write('q', META.id, attrs(1000)), records.write('q', META.id, attrs(2000)), records.write('q', META.id, attrs(3000))]);
  t.same(outcomes, ['written', 'written', 'written']);
  t.equal(etcd.record().attributes.visibilityMs, 3000, 'the record ends with the last change the actor made');
  const writes = etcd.writes;
  await new Promise((r) => setTimeout(r, 20));
  t.equal(await records.write('q', META.id, attrs(3000)), 'written', 'the same attributes again');
  t.equal(etcd.writes, writes, 'cost no write');
});

t.test('record writer: another leader, or the queue gone', async (t) => {
  const etcd = fakeEtcd(META);
  const records = new AttributeRecords(etcd.ports);
  etcd.setLeader('n2');
  await new Promise((r) => setTimeout(r, 20));
  t.equal(await records.write('q', META.id, attrs(1000)), 'notLeader');
  t.equal(etcd.record().attributes.visibilityMs, undefined, 'nothing written');
  etcd.remove();
  await new Promise((r) => setTimeout(r, 20));
  t.equal(await records.write('q', META.id, attrs(1000)), 'gone');
  t.equal(await new AttributeRecords(fakeEtcd(META).ports).write('q', 'fedcba9876543210', attrs(1)), 'gone', 'another incarnation of the name');
});
