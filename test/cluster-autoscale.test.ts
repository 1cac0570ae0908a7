// Autoscale of a partitioned strict queue in a three-node cluster (real etcd, real broker
// processes on loopback). Producers send numbered messages of 30 groups through every node while
// consumers on every node take them (receive and delete through two nodes, a push subscription
// through the third): the supervisor adds partitions (led by other
// nodes) when a partition passes 80% of its rate limit, and once the load stops retires and drops
// them again. Throughout, every group is delivered in order, each message once, nothing lost —
// the strict rule of src/supervisor/cluster/layout.ts across every change of the partition count.
import t from 'tap';
import { connect, type FerryClient } from '../src/client/index.js';
import { decodeReceipt } from '../src/actors/receipt.js';
import { ferry } from './helpers/cli.js';
import { startCluster, waitFor } from './helpers/cluster.js';
import { partitionRecords } from './helpers/partitioned.js';

t.test('a strict queue scales out under load and back in, groups in order', async (t) => {
  const cluster = await startCluster(t, 3);
  const clients: FerryClient[] = [];
  for (const node of cluster.nodes) clients.push(await connect(node.url, { reconnect: false }));
  t.teardown(() => Promise.all(clients.map((c) => c.close())));

  // Created with the CLI's cluster flags (highPct 80 and lowPct 20 are the defaults).
  const created = await ferry(['queue', 'create', 'jobs', '--ordering', 'strict', '--visibility', '60',
    '--autoscale', '--scale-by', 'rate', '--scale-limit', '30', '--max-partitions', '3', '--url', cluster.nodes[0]!.url]);
  t.equal(created.code, 0, created.stderr);
  t.equal(created.stdout, 'created jobs\n');

  const groups = Array.from({ length: 30 }, (_, g) => `g${g}`);
  const sent = new Map<string, number>(groups.map((g) => [g, 0]));
  const got = new Map<string, number[]>(groups.map((g) => [g, []]));
  /** Queue ids of the partitions messages were delivered from. */
  const servedBy = new Set<string>();
  const errors: unknown[] = [];
  let producing = true;
  let consuming = true;

  // Producers: one per node, each owning 10 groups, each send awaited (so a group's order is defined), ~25 msg/s each.
  const producers = clients.map(async (c, i) => {
    const mine = groups.filter((_, g) => g % 3 === i);
    for (let k = 0; producing; k++) {
      const g = mine[k % mine.length]!;
      const n = sent.get(g)!;
      try {
        await c.queue('jobs').send(`${g}:${n}`, { groupId: g, dedupId: `${g}:${n}` });
        sent.set(g, n + 1);
      } catch (err) {
        errors.push(err);
      }
      await new Promise((r) => setTimeout(r, 40));
    }
  });
  // Consumers: receive loops through n1 and n2, a push subscription (consume) through n3.
  const record = (body: string, receipt: string): void => {
    const [g, n] = body.split(':');
    got.get(g!)!.push(Number(n));
    servedBy.add(decodeReceipt(receipt)!.qid);
  };
  const subscriber = await clients[2]!.queue('jobs').consume((m) => record(Buffer.from(m.body).toString(), m.receipt), { prefetch: 8 });
  const consumers = clients.slice(0, 2).map(async (c) => {
    while (consuming) {
      try {
        const msgs = await c.queue('jobs').receive({ max: 10, waitMs: 200 });
        for (const m of msgs) {
          record(Buffer.from(m.body).toString(), m.receipt);
          await c.queue('jobs').delete(m.receipt);
        }
      } catch (err) {
        errors.push(err);
      }
    }
  });

  const out = await waitFor('the queue to grow to 3 partitions', async () => {
    const records = await partitionRecords(cluster.etcd.url, 'jobs');
    return records[0]?.layout?.active === 3 && records.length === 3 ? records : undefined;
  }, 90_000);
  t.equal(new Set(out.map((r) => r.leader)).size, 3, 'its three partitions are led by three different nodes');
  await waitFor('messages served by the new partitions', async () => (out.every((r) => servedBy.has(r.id)) ? true : undefined), 60_000);
  t.pass('groups moved to the new partitions and were served from them');
  // Keep the load on three partitions a while longer (groups keep moving as they drain).
  const more = [...sent.values()].reduce((a, b) => a + b, 0) + 150;
  await waitFor('150 more messages sent', async () => ([...sent.values()].reduce((a, b) => a + b, 0) >= more ? true : undefined), 60_000);

  producing = false;
  await Promise.all(producers);
  const total = [...sent.values()].reduce((a, b) => a + b, 0);
  await waitFor('every message consumed', async () => ([...got.values()].reduce((a, b) => a + b.length, 0) >= total ? true : undefined), 60_000);
  const back = await waitFor('the queue to shrink back to 1 partition', async () => {
    const records = await partitionRecords(cluster.etcd.url, 'jobs');
    return records.length === 1 && records[0]!.layout!.total === 1 ? records : undefined;
  }, 90_000);
  t.equal(back[0]!.layout!.active, 1, 'one active partition again, the retired ones dropped');
  consuming = false;
  await Promise.all(consumers);
  await subscriber.close();

  t.same(errors, [], 'no client saw an error');
  t.ok(total >= 250, `a real load was sent (${total} messages)`);
  for (const g of groups) {
    const expected = Array.from({ length: sent.get(g)! }, (_, n) => n);
    t.same(got.get(g), expected, `group ${g}: ${expected.length} messages in order, each once`);
  }
  const attrs = await clients[0]!.queue('jobs').attributes();
  t.equal(attrs.stats.messages, 0, 'nothing left behind');
});
