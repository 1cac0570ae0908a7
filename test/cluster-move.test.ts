// Live migration with real processes (docs/cluster.md "Moving queues"): a queue moves to a node
// that holds no copy (snapshot, catch-up, handover) and then to one of its followers, under a
// steady producer and consumer; nothing acknowledged is lost, nothing deleted comes back, the
// old leader drops its copy. Then the bad requests, each with its stable code.
import t from 'tap';
import { connect, FerryError } from '../src/client/index.js';
import { queueMeta, startCluster, waitFor } from './helpers/cluster.js';
import { checkTraffic, startTraffic } from './helpers/traffic.js';
import type { BrokerProcess } from './helpers/broker.js';
import { ferry } from './helpers/cli.js';

interface Status {
  queues: Array<{ name: string; role: string; mark?: { epoch: number; seq: number } }>;
}

async function statusOf(node: BrokerProcess, queue: string): Promise<Status['queues'][number] | undefined> {
  const res = await fetch(`${node.httpUrl}/cluster`);
  return ((await res.json()) as Status).queues.find((q) => q.name === queue);
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; field: string | undefined }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FerryError) return { code: err.code, field: err.field };
    throw err;
  }
  throw new Error('expected a refusal');
}

t.test('moveQueue under load: to a new node, then to a follower', async (t) => {
  const cluster = await startCluster(t, 4, { args: ['--rebalance', 'off'] });
  const nodeOf = (id: string): BrokerProcess => cluster.nodes[Number(id.slice(1)) - 1]!;
  const client = await connect(cluster.urls(), { requestTimeoutMs: 20_000, backoff: { initialMs: 50, maxMs: 500 } });
  t.teardown(() => client.close());
  await client.createQueue('moving');
  const before = (await queueMeta(cluster.etcd.url, 'moving'))!;
  const outsider = ['n1', 'n2', 'n3', 'n4'].find((n) => !before.replicas.includes(n))!;

  // A backlog first, so the move carries real data (the snapshot), not only a stream.
  const backlog = await client.queue('moving').sendBatch(Array.from({ length: 500 }, (_, i) => ({ body: `backlog-${i}` })));
  t.equal(backlog.filter((r) => 'ok' in r).length, 500, 'backlog of 500 sent');
  const traffic = startTraffic(client, 'moving');
  for (let i = 0; i < 500; i++) traffic.acked.add(`backlog-${i}`);
  await traffic.progress(200);

  let started = Date.now();
  const moved = await client.moveQueue('moving', outsider);
  t.comment(`move to a node without a copy took ${Date.now() - started} ms`);
  t.equal(moved.leader, outsider, `${before.leader} → ${outsider}`);
  t.equal(moved.epoch, before.epoch + 1, 'one new epoch');
  t.same([...moved.replicas].sort(), before.replicas.map((n) => (n === before.leader ? outsider : n)).sort(), 'the new node replaced the old leader in the replica set');
  t.same(await queueMeta(cluster.etcd.url, 'moving').then((m) => m?.leader), outsider, 'etcd names the new leader');
  await waitFor('the old leader dropped its copy', async () => ((await statusOf(nodeOf(before.leader), 'moving'))?.mark === undefined ? true : undefined));
  t.equal((await statusOf(nodeOf(before.leader), 'moving'))?.role, 'none', 'the old leader holds no copy');
  await traffic.progress(200);

  const follower = moved.replicas.find((n) => n !== outsider)!;
  started = Date.now();
  const cli = await ferry(['queue', 'move', 'moving', '--to', follower, '--url', cluster.urls().join(',')]);
  t.comment(`leadership transfer to a follower (ferry queue move) took ${Date.now() - started} ms`);
  t.equal(cli.code, 0, `ferry queue move exits 0 (${cli.stderr.trim()})`);
  t.match(cli.stdout, new RegExp(`^moved moving: leader ${follower}, replicas `), 'the CLI prints the new placement');
  const again = (await queueMeta(cluster.etcd.url, 'moving'))!;
  t.equal(again.leader, follower, `leadership to follower ${follower}`);
  t.same([...again.replicas].sort(), [...moved.replicas].sort(), 'same replica set');
  await traffic.progress(200);
  await traffic.stop();
  await checkTraffic(t, client, 'moving', traffic);

  // Bad requests: each refused with its code, the connection stays usable.
  const leader = again.leader;
  t.same(await refusal(client.moveQueue('nope', 'n1')), { code: 'QueueDoesNotExist', field: 'queue' }, 'unknown queue');
  t.same(await refusal(client.moveQueue('moving', 'n9')), { code: 'NodeNotLive', field: 'to' }, 'unknown node');
  t.same(await refusal(client.moveQueue('moving', leader)), { code: 'MoveRefused', field: 'to' }, 'move to the current leader');
  t.same(await refusal(client.request('moveQueue', { queue: 'moving', to: 'bad id!' })), { code: 'InvalidField', field: 'to' }, 'malformed node id');
  t.same(await refusal(client.request('moveQueue', { queue: 'moving' } as never)), { code: 'MissingField', field: 'to' }, 'missing node');
  t.same(await refusal(client.drainNode('n9')), { code: 'NodeNotLive', field: 'node' }, 'drain of an unknown node');
  t.same(await refusal(client.request('drainNode', { node: 7 } as never)), { code: 'InvalidField', field: 'node' }, 'drain with a number');
  const dead = cluster.nodes.find((_, i) => `n${i + 1}` !== leader && !again.replicas.includes(`n${i + 1}`))!;
  const deadId = `n${cluster.nodes.indexOf(dead) + 1}`;
  await dead.stop('SIGTERM');
  await waitFor(`node ${deadId} left`, async () => {
    const err = await refusal(client.moveQueue('moving', deadId)).catch(() => undefined);
    return err?.code === 'NodeNotLive' ? err : undefined;
  });
  t.pass(`a node that left (${deadId}) is refused with NodeNotLive`);
  t.equal((await client.queue('moving').send('still fine')).seq > 0, true, 'the connection still works');
});

t.test('a single node refuses moveQueue and drainNode with ClusterOnly', async (t) => {
  const { startBroker } = await import('./helpers/broker.js');
  const broker = await startBroker(t);
  const client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  await client.createQueue('q');
  t.same(await refusal(client.moveQueue('q', 'n2')), { code: 'ClusterOnly', field: undefined });
  t.same(await refusal(client.drainNode('n2')), { code: 'ClusterOnly', field: undefined });
});
