// A node joining a running cluster (docs/cluster.md "Moving queues"): the supervisor's rebalancer
// spreads copies onto it (snapshot, catch-up, handover) while clients keep sending and receiving;
// it ends up holding and leading queues, and serves them to clients connected to it.
import t from 'tap';
import { connect } from '../src/client/index.js';
import { allQueueMetas, startCluster, waitFor } from './helpers/cluster.js';
import { checkTraffic, startTraffic } from './helpers/traffic.js';

t.test('a fourth node joins and receives queues', async (t) => {
  const cluster = await startCluster(t, 3);
  const client = await connect(cluster.urls(), { requestTimeoutMs: 20_000, backoff: { initialMs: 50, maxMs: 500 } });
  t.teardown(() => client.close());
  const names = ['j1', 'j2', 'j3', 'j4', 'j5', 'j6'];
  for (const q of names) await client.createQueue(q);
  const traffic = ['j1', 'j2'].map((q) => startTraffic(client, q, { producers: 1 }));
  await Promise.all(traffic.map((tr) => tr.progress(50)));

  const n4 = await cluster.addNode();
  const spread = await waitFor('copies spread onto n4', async () => {
    const metas = await allQueueMetas(cluster.etcd.url);
    const copies = (n: string): number => metas.filter((m) => m.replicas.includes(n)).length;
    const counts = ['n1', 'n2', 'n3', 'n4'].map(copies);
    const settled = metas.every((m) => (m.learners ?? []).length === 0) && Math.max(...counts) - Math.min(...counts) < 2;
    return settled ? { metas, counts } : undefined;
  }, 90_000).catch((err: unknown) => {
    for (const [i, n] of cluster.nodes.entries()) {
      const lines = n.output.split('\n').filter((l) => /mov|supervisor|balanc|handover/.test(l));
      t.comment(`n${i + 1}:\n${lines.slice(-15).join('\n')}`);
    }
    throw err;
  });
  t.comment(`copies per node n1..n4: ${spread.counts.join(', ')}`);
  t.ok(spread.counts[3]! >= 4, `n4 holds ${spread.counts[3]} copies`);
  const led = spread.metas.filter((m) => m.leader === 'n4').map((m) => m.name);
  t.ok(led.length >= 1, `n4 leads ${led.join(', ')}`);
  for (const m of spread.metas) t.equal(m.replicas.length, 3, `${m.name} has 3 replicas`);

  // n4 serves: a client connected only to it sends and receives on a queue it leads.
  const direct = await connect(n4.url, { reconnect: false });
  t.teardown(() => direct.close());
  // A queue without the test's consumers on it, so the message waits for us.
  const q = led.find((n) => n !== 'j1' && n !== 'j2');
  if (q === undefined) return t.fail('n4 leads only queues with consumers');
  await direct.queue(q).send('through n4');
  await Promise.all(traffic.map((tr) => tr.progress(50)));
  for (const tr of traffic) await tr.stop();
  for (const [i, name] of ['j1', 'j2'].entries()) await checkTraffic(t, client, name, traffic[i]!);
  const rest = await direct.queue(q).receive({ max: 10, waitMs: 1000 });
  t.ok(rest.some((m) => Buffer.from(m.body).toString() === 'through n4'), `n4 delivers from ${q}`);
});
