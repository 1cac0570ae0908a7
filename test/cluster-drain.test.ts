// Draining a node with real processes (docs/cluster.md "Moving queues"): `drainNode` while clients
// keep sending to and receiving from the queues it leads and follows; every copy moves to the
// spare node, new queues avoid the draining node, the node then leaves, and nothing acknowledged
// is lost and nothing deleted comes back. The CLI prints the drain.
import t from 'tap';
import { connect } from '../src/client/index.js';
import { allQueueMetas, startCluster, waitFor } from './helpers/cluster.js';
import { ferry } from './helpers/cli.js';
import { checkTraffic, startTraffic } from './helpers/traffic.js';

t.test('drain a node under load, then it leaves', async (t) => {
  const cluster = await startCluster(t, 4, { args: ['--rebalance', 'off'] });
  const client = await connect(cluster.urls(), { requestTimeoutMs: 20_000, backoff: { initialMs: 50, maxMs: 500 } });
  t.teardown(() => client.close());
  const names = ['d1', 'd2', 'd3', 'd4'];
  for (const q of names) await client.createQueue(q);
  const metas = await allQueueMetas(cluster.etcd.url);
  // The node to drain: the leader of d1; traffic on every queue.
  const victim = metas.find((m) => m.name === 'd1')!.leader;
  t.ok(metas.filter((m) => m.replicas.includes(victim)).length >= 2, `${victim} holds copies of several queues`);
  const traffic = names.map((q) => startTraffic(client, q, { producers: 1 }));
  await Promise.all(traffic.map((tr) => tr.progress(50)));

  const first = await client.drainNode(victim);
  t.equal(first.node, victim);
  t.ok(first.remaining > 0, `${first.remaining} queues have a copy on ${victim} when the drain starts`);
  await client.createQueue('after-drain');
  const done = await waitFor(`${victim} drained`, async () => {
    const s = await client.drainNode(victim);
    return s.remaining === 0 ? s : undefined;
  }, 60_000);
  t.same(done.queues, [], 'nothing left on the node');
  const after = await allQueueMetas(cluster.etcd.url);
  for (const m of after) {
    t.notOk(m.replicas.includes(victim) || m.leader === victim, `${m.name} has no copy on ${victim}`);
    t.equal(m.replicas.length, 3, `${m.name} still has 3 replicas (${m.replicas.join(',')})`);
  }
  await Promise.all(traffic.map((tr) => tr.progress(50)));

  // The drained node leaves; clients keep going.
  const victimNode = cluster.nodes[Number(victim.slice(1)) - 1]!;
  await victimNode.stop('SIGTERM');
  await Promise.all(traffic.map((tr) => tr.progress(50)));
  for (const tr of traffic) await tr.stop();
  for (const [i, q] of names.entries()) await checkTraffic(t, client, q, traffic[i]!);

  const survivors = cluster.nodes.filter((n) => n !== victimNode).map((n) => n.url).join(',');
  const other = ['n1', 'n2', 'n3', 'n4'].find((n) => n !== victim)!;
  const cli = await ferry(['node', 'drain', other, '--wait', '60', '--url', survivors]);
  t.equal(cli.code, 0, `ferry node drain ${other} --wait exits 0 (${cli.stderr.trim()})`);
  t.match(cli.stdout, new RegExp(`node ${other} draining: 0 queues left`), 'the CLI reports the drain done');
});
