// Automatic rebalancing for isolation, with real processes (docs/cluster.md "Moving queues"): two
// queues led by one node, one of them saturated; the supervisor sees the node hot (load reported
// by the nodes) and moves one queue to a quiet node by itself. Nothing acknowledged is lost on
// either queue. With --rebalance off the same load moves nothing.
import t from 'tap';
import type * as Tap from 'tap';
import { connect } from '../src/client/index.js';
import { queueMeta, startCluster, waitFor } from './helpers/cluster.js';
import { checkTraffic, startTraffic } from './helpers/traffic.js';

async function colocated(t: Tap.Test, rebalance: 'on' | 'off') {
  const cluster = await startCluster(t, 3, { args: ['--rebalance', rebalance, '--rebalance-min-rate', '100'] });
  const client = await connect(cluster.urls(), { requestTimeoutMs: 20_000, backoff: { initialMs: 50, maxMs: 500 } });
  t.teardown(() => client.close());
  await client.createQueue('hot');
  await client.createQueue('light');
  const hot = (await queueMeta(cluster.etcd.url, 'hot'))!;
  const light = (await queueMeta(cluster.etcd.url, 'light'))!;
  if (light.leader !== hot.leader) await client.moveQueue('light', hot.leader);
  t.equal((await queueMeta(cluster.etcd.url, 'light'))!.leader, hot.leader, `both queues led by ${hot.leader}`);
  return { cluster, client, leader: hot.leader };
}


t.test('a saturated queue: the supervisor moves one of the two queues off the hot node', async (t) => {
  const { cluster, client, leader } = await colocated(t, 'on');
  const hot = startTraffic(client, 'hot', { producers: 8, consume: false });
  const light = startTraffic(client, 'light', { producers: 1 });
  const started = Date.now();
  const apart = await waitFor('the queues are led by different nodes', async () => {
    const [h, l] = await Promise.all([queueMeta(cluster.etcd.url, 'hot'), queueMeta(cluster.etcd.url, 'light')]);
    return h!.leader !== l!.leader ? { hot: h!.leader, light: l!.leader } : undefined;
  }, 60_000);
  t.comment(`rebalanced after ${Date.now() - started} ms: hot on ${apart.hot}, light on ${apart.light} (both were on ${leader})`);
  t.pass('the supervisor moved one queue by itself');
  await light.progress(50);
  await hot.stop();
  await light.stop();
  await checkTraffic(t, client, 'light', light);
  await checkTraffic(t, client, 'hot', hot);
});

t.test('--rebalance off: the same load moves nothing', async (t) => {
  const { cluster, client, leader } = await colocated(t, 'off');
  const hot = startTraffic(client, 'hot', { producers: 8, consume: false });
  await hot.progress(3000); // several balancing rounds' worth of load
  await hot.stop();
  const [h, l] = await Promise.all([queueMeta(cluster.etcd.url, 'hot'), queueMeta(cluster.etcd.url, 'light')]);
  t.same([h!.leader, l!.leader], [leader, leader], 'both queues stay where they were');
});
