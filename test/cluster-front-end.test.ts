// A three-node cluster on loopback (real etcd, real broker processes): every node is a front end.
// A queue created on one node is served on all: send and receive on every node reach its leader,
// and a push subscription through a node that does not lead the queue gets the messages.
import t from 'tap';
import { connect, type FerryClient } from '../src/client/index.js';
import { queueMeta, startCluster, waitFor } from './helpers/cluster.js';

t.test('create, send and receive on every node of a three-node cluster', async (t) => {
  const cluster = await startCluster(t, 3);
  const clients: FerryClient[] = [];
  for (const node of cluster.nodes) clients.push(await connect(node.url, { reconnect: false }));
  t.teardown(() => Promise.all(clients.map((c) => c.close())));

  const created = await clients[0]!.createQueue('orders');
  t.equal(created.created, true, 'created through n1');
  const again = await clients[2]!.createQueue('orders');
  t.equal(again.created, false, 'createQueue is idempotent through another node');

  for (const [i, c] of clients.entries()) {
    t.same((await c.listQueues()).queues, ['orders'], `n${i + 1} lists the queue`);
  }

  const sent: string[] = [];
  for (const [i, c] of clients.entries()) {
    for (let k = 0; k < 5; k++) {
      const body = `from-n${i + 1}-${k}`;
      await c.queue('orders').send(body);
      sent.push(body);
    }
  }

  const got: string[] = [];
  for (const c of clients) {
    const msgs = await c.queue('orders').receive({ max: 5 });
    t.equal(msgs.length, 5, 'each node receives five');
    for (const m of msgs) {
      got.push(Buffer.from(m.body).toString());
      t.equal(await c.queue('orders').delete(m.receipt), true, 'delete through the same node');
    }
  }
  t.same(got.sort(), sent.sort(), 'every message sent through any node is received exactly once');
  const attrs = await clients[1]!.queue('orders').attributes();
  t.equal(attrs.stats.visible + attrs.stats.leased, 0, 'queue is empty');

  // A push subscription through a node that does not lead the queue: pushes come back over the
  // peer link, credit flows, acks delete on the leader.
  const meta = await queueMeta(cluster.etcd.url, 'orders');
  const via = clients[cluster.nodes.findIndex((_, i) => `n${i + 1}` !== meta!.leader)]!;
  const seen: string[] = [];
  const consumer = await via.queue('orders').consume((m) => {
    seen.push(Buffer.from(m.body).toString());
  }, { prefetch: 4 });
  const pushed = Array.from({ length: 20 }, (_, i) => `push-${i}`);
  for (const body of pushed) await clients[0]!.queue('orders').send(body);
  await waitFor('20 pushed messages', async () => (seen.length >= 20 ? true : undefined), 20_000);
  t.same([...seen].sort(), [...pushed].sort(), 'every message pushed once through the forwarding node');
  await consumer.close();
  await waitFor('acks to reach the leader', async () => {
    const a = await clients[0]!.queue('orders').attributes();
    return a.stats.visible + a.stats.leased === 0 ? true : undefined;
  }, 10_000);
  t.pass('consumer acks deleted every message on the leader');

  // deleteQueue through a node that does not lead it: gone everywhere; a new queue of the same
  // name is a new, empty incarnation.
  await clients[0]!.queue('orders').send('left behind');
  await via.deleteQueue('orders');
  for (const [i, c] of clients.entries()) {
    await waitFor(`n${i + 1} to drop the queue`, async () => ((await c.listQueues()).queues.length === 0 ? true : undefined), 10_000);
  }
  await t.rejects(clients[2]!.queue('orders').send('x'), { code: 'QueueDoesNotExist' });
  t.equal((await clients[1]!.createQueue('orders')).created, true, 'created again');
  t.same(await clients[2]!.queue('orders').receive({ max: 10 }), [], 'the new incarnation is empty');
});

t.test('a queue created through one node is usable at once through the others', async (t) => {
  const cluster = await startCluster(t, 3);
  const clients: FerryClient[] = [];
  for (const node of cluster.nodes) clients.push(await connect(node.url, { reconnect: false }));
  t.teardown(() => Promise.all(clients.map((c) => c.close())));
  // createQueue answers once the leader serves the queue, which may be before the other nodes'
  // etcd watches have its record: their first requests must still find it.
  for (let i = 0; i < 10; i++) {
    const name = `right-behind-${i}`;
    await clients[i % 3]!.createQueue(name);
    const others = clients.filter((_, k) => k !== i % 3);
    const sent = await Promise.all(others.map((c, k) => c.queue(name).send(`m${k}`)));
    t.equal(sent.length, 2, `${name}: sends through both other nodes right after the create`);
  }
  await t.rejects(clients[1]!.queue('never-created').send('x'), { code: 'QueueDoesNotExist' }, 'a queue nobody created still does not exist');
});
