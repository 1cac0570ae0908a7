// Cluster node lifecycle: a leader's shard worker crashes (its queue is led again from disk, in the
// same epoch, and keeps its messages), and a leader stopped with SIGTERM exits 0 and hands over at
// once (its lease is revoked, so nobody waits for it to lapse).
import t from 'tap';
import { connect } from '../src/client/index.js';
import { queueMeta, startCluster, waitFor } from './helpers/cluster.js';

t.test('shard crash on the leader, then SIGTERM of the leader', async (t) => {
  const cluster = await startCluster(t, 3, { args: ['--fault-injection'] });
  const client = await connect(cluster.urls(), { requestTimeoutMs: 30_000 });
  t.teardown(() => client.close());
  await client.createQueue('life');
  const meta = (await queueMeta(cluster.etcd.url, 'life'))!;
  const leader = cluster.nodes[Number(meta.leader.slice(1)) - 1]!;
  const other = cluster.nodes.find((n) => n !== leader)!;
  const viaOther = await connect(other.url, { reconnect: false, requestTimeoutMs: 30_000 });
  t.teardown(() => viaOther.close());

  for (let i = 0; i < 10; i++) await viaOther.queue('life').send(`a${i}`);
  const crash = await fetch(`${leader.httpUrl}/admin/shards/0/crash`, { method: 'POST' });
  t.equal(crash.status, 202, 'the leader\'s shard worker crashes');
  for (let i = 0; i < 10; i++) await viaOther.queue('life').send(`b${i}`);
  t.pass('sends through another node succeed across the shard restart');
  t.equal((await queueMeta(cluster.etcd.url, 'life'))!.epoch, meta.epoch, 'same leader, same epoch');

  const exit = await leader.stop('SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'the leader exits 0 on SIGTERM');
  const moved = await waitFor('the queue to move', async () => {
    const m = await queueMeta(cluster.etcd.url, 'life');
    return m !== undefined && m.leader !== meta.leader ? m : undefined;
  }, 10_000);
  t.equal(moved.epoch, meta.epoch + 1);
  for (let i = 0; i < 10; i++) await viaOther.queue('life').send(`c${i}`);

  const got: string[] = [];
  for (let i = 0; i < 20 && got.length < 30; i++) {
    const msgs = await viaOther.queue('life').receive({ max: 30, waitMs: 200 });
    for (const m of msgs) got.push(Buffer.from(m.body).toString());
  }
  const want = ['a', 'b', 'c'].flatMap((p) => Array.from({ length: 10 }, (_, i) => `${p}${i}`));
  t.same(got.sort(), want.sort(), 'every message survived the shard crash and the handover');
});
