// A partition's leader killed (kill -9) under load, in a three-node cluster (real etcd, real broker
// processes on loopback): that partition fails over like any queue, the front ends on the surviving
// nodes route around it meanwhile, and afterwards every acknowledged send of every group has been
// delivered, the first deliveries of each group in order (a message leased before the kill may be
// delivered again: at-least-once).
import t from 'tap';
import { connect, type FerryClient } from '../src/client/index.js';
import { startCluster, waitFor } from './helpers/cluster.js';
import { partitionRecords } from './helpers/partitioned.js';

t.test('kill -9 the leader of one partition of a strict queue under load', async (t) => {
  const cluster = await startCluster(t, 3);
  const admin = await connect(cluster.nodes[0]!.url, { reconnect: false });
  await admin.request('createQueue', { queue: 'q', attributes: { ordering: 'strict', visibilityMs: 5000 }, partitioning: { partitions: 3 } });
  await admin.close();
  const records = await partitionRecords(cluster.etcd.url, 'q');
  const victimId = records[1]!.leader;
  const victim = cluster.nodes[Number(victimId.slice(1)) - 1]!;
  const survivors = cluster.nodes.filter((n) => n !== victim);
  const clients: FerryClient[] = [];
  for (const n of survivors) clients.push(await connect(n.url, { reconnect: false, requestTimeoutMs: 30_000 }));
  t.teardown(() => Promise.all(clients.map((c) => c.close())));

  const groups = Array.from({ length: 12 }, (_, g) => `g${g}`);
  const acked = new Map<string, number>(groups.map((g) => [g, 0]));
  const firsts = new Map<string, number[]>(groups.map((g) => [g, []]));
  const errors: unknown[] = [];
  let producing = true;
  let consuming = true;
  const producers = clients.map(async (c, i) => {
    const mine = groups.filter((_, g) => g % 2 === i);
    for (let k = 0; producing; k++) {
      const g = mine[k % mine.length]!;
      const n = acked.get(g)!;
      try {
        await c.queue('q').send(`${g}:${n}`, { groupId: g, dedupId: `${g}:${n}` });
        acked.set(g, n + 1);
      } catch (err) {
        errors.push(err);
      }
    }
  });
  const consumers = clients.map(async (c) => {
    while (consuming) {
      try {
        for (const m of await c.queue('q').receive({ max: 10, waitMs: 200 })) {
          const [g, n] = Buffer.from(m.body).toString().split(':');
          const seen = firsts.get(g!)!;
          if (!seen.includes(Number(n))) seen.push(Number(n));
          await c.queue('q').delete(m.receipt).catch(() => undefined); // a receipt from before the failover may be expired
        }
      } catch (err) {
        errors.push(err);
      }
    }
  });

  const total = (): number => [...acked.values()].reduce((a, b) => a + b, 0);
  await waitFor('some load before the kill', async () => (total() >= 100 ? true : undefined), 30_000);
  await victim.kill();
  const after = await waitFor('partition 1 failed over', async () => {
    const r = await partitionRecords(cluster.etcd.url, 'q');
    return r[1]!.leader !== victimId ? r : undefined;
  }, 30_000);
  t.not(after[1]!.leader, victimId, `partition 1 is led by ${after[1]!.leader} now`);
  const atFailover = total();
  await waitFor('sends to continue after the failover', async () => (total() >= atFailover + 100 ? true : undefined), 30_000);
  producing = false;
  await Promise.all(producers);
  await waitFor('every acknowledged send delivered', async () => (groups.every((g) => firsts.get(g)!.length >= acked.get(g)!) ? true : undefined), 60_000);
  consuming = false;
  await Promise.all(consumers);

  t.same(errors, [], 'no client on a surviving node saw an error');
  for (const g of groups) {
    t.same(firsts.get(g)!.slice(0, acked.get(g)!), Array.from({ length: acked.get(g)! }, (_, n) => n), `group ${g}: every acknowledged send delivered, first deliveries in order`);
  }
  await victim.start();
});
