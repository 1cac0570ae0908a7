// Partitioned queues in a three-node cluster (real etcd, real broker processes on loopback): a
// queue created with `partitioning: {partitions: 3}` is three replicated partitions led by
// different nodes; every node routes sends by group, receives from all partitions, and sends
// receipts back to the partition that issued them. Bad `partitioning` values are refused with
// codes naming the field. A push subscription over the partitions gives back, when its connection
// closes, the messages it held and had not settled.
import t from 'tap';
import { connect, type FerryClient } from '../src/client/index.js';
import { queueMeta, startCluster, waitFor } from './helpers/cluster.js';
import { drainQueue } from './helpers/partitioned.js';
import { startBroker } from './helpers/broker.js';

t.test('a queue of three partitions over three nodes', async (t) => {
  const cluster = await startCluster(t, 3);
  const clients: FerryClient[] = [];
  for (const node of cluster.nodes) clients.push(await connect(node.url, { reconnect: false }));
  t.teardown(() => Promise.all(clients.map((c) => c.close())));

  const created = await clients[0]!.request('createQueue', { queue: 'orders', attributes: { ordering: 'strict' }, partitioning: { partitions: 3 } });
  t.equal(created.created, true, 'created');
  const again = await clients[1]!.request('createQueue', { queue: 'orders', partitioning: { partitions: 3 } });
  t.equal(again.created, false, 'idempotent with the same partitioning');
  await t.rejects(clients[2]!.request('createQueue', { queue: 'orders', partitioning: { partitions: 2 } }), { code: 'QueueAlreadyExists', field: 'partitioning.partitions' });

  const leaders = new Set<string>();
  for (const name of ['orders', 'orders#1', 'orders#2']) {
    const meta = await queueMeta(cluster.etcd.url, name);
    t.ok(meta !== undefined, `record ${name} exists`);
    leaders.add(meta!.leader);
  }
  t.equal(leaders.size, 3, 'the three partitions are led by three different nodes');
  for (const c of clients) t.same((await c.listQueues()).queues, ['orders'], 'partitions are hidden from listQueues');

  // 12 groups × 10 messages, sent in order through every node in turn.
  const groups = Array.from({ length: 12 }, (_, g) => `g${g}`);
  const sent = new Map<string, string[]>(groups.map((g) => [g, []]));
  for (let k = 0; k < 10; k++) {
    for (const [i, g] of groups.entries()) {
      const body = `${g}-${k}`;
      await clients[i % 3]!.queue('orders').send(body, { groupId: g, dedupId: body });
      sent.get(g)!.push(body);
    }
  }
  const batch = await clients[0]!.queue('orders').sendBatch(groups.map((g) => ({ body: `${g}-10`, groupId: g, dedupId: `${g}-10` })));
  t.ok(batch.every((r) => 'ok' in r), 'a batch over every partition is accepted entry by entry');
  for (const g of groups) sent.get(g)!.push(`${g}-10`);

  const attrs = await clients[2]!.queue('orders').attributes();
  t.equal(attrs.stats.messages, 132, 'getQueueAttributes sums the partitions');

  const got = await drainQueue(clients, 'orders', 132);
  for (const g of groups) t.same(got.get(g), sent.get(g), `group ${g} delivered in order, once each`);

  const empty = await clients[1]!.queue('orders').attributes();
  t.equal(empty.stats.messages, 0, 'every receipt deleted its message in its own partition');

  // A push subscription over the three partitions through a node: credit (prefetch) bounds the
  // messages held at once, strict groups come in order, every message once.
  const pushedSent = new Map<string, string[]>(groups.map((g) => [g, []]));
  for (let k = 0; k < 5; k++) {
    for (const g of groups) {
      await clients[0]!.queue('orders').send(`${g}-p${k}`, { groupId: g });
      pushedSent.get(g)!.push(`${g}-p${k}`);
    }
  }
  const pushed = new Map<string, string[]>(groups.map((g) => [g, []]));
  let holding = 0;
  let mostHeld = 0;
  let count = 0;
  const consumer = await clients[1]!.queue('orders').consume(async (m) => {
    holding++;
    mostHeld = Math.max(mostHeld, holding);
    pushed.get(m.groupId!)!.push(Buffer.from(m.body).toString());
    await new Promise((r) => setTimeout(r, 2));
    holding--;
    count++;
  }, { prefetch: 4 });
  await waitFor('60 pushed messages', async () => (count >= 60 ? true : undefined), 60_000);
  await consumer.close();
  t.ok(mostHeld <= 4, `never more than the credit held at once (${mostHeld})`);
  for (const g of groups) t.same(pushed.get(g), pushedSent.get(g), `group ${g} pushed in order, once each`);
  await waitFor('the acks to empty the queue', async () => ((await clients[2]!.queue('orders').attributes()).stats.messages === 0 ? true : undefined), 10_000);
  t.pass('every pushed message was deleted by its ack');

  // A subscription whose connection closes gives back what it held and had not settled, at once
  // (long before the 60 s lease), as a subscription on one partition does: one message it deleted
  // stays deleted, the others come back with their receive count kept.
  const heldGroups = groups.slice(0, 6);
  for (const g of heldGroups) await clients[0]!.queue('orders').send(`${g}-held`, { groupId: g });
  const leaver = await connect(cluster.nodes[2]!.url, { reconnect: false });
  const heldBy: Array<{ body: string; receipt: string; receiveCount: number }> = [];
  await leaver.queue('orders').subscribe({ credit: 6, visibilityMs: 60_000 }, (messages) => {
    for (const m of messages) heldBy.push({ body: Buffer.from(m.body).toString(), receipt: m.receipt, receiveCount: m.receiveCount });
  });
  await waitFor('6 messages pushed to the leaving subscriber', async () => (heldBy.length >= 6 ? true : undefined), 30_000);
  await leaver.queue('orders').delete(heldBy[0]!.receipt);
  const closedAt = Date.now();
  await leaver.close();
  const back = new Map<string, number>();
  await waitFor('the 5 unsettled messages to be receivable again', async () => {
    for (const m of await clients[0]!.queue('orders').receive({ max: 10, waitMs: 200 })) {
      back.set(Buffer.from(m.body).toString(), m.receiveCount);
      await clients[0]!.queue('orders').delete(m.receipt);
    }
    return back.size >= 5 ? true : undefined;
  }, 20_000);
  t.ok(Date.now() - closedAt < 30_000, 'given back well before the 60 s lease ran out');
  t.same([...back.keys()].sort(), heldBy.slice(1).map((h) => h.body).sort(), 'exactly the unsettled messages came back');
  // (A poll of the consumer closed above may have leased one before the subscriber got it and
  // given it back: its count is then one higher. Either way, giving back keeps the count.)
  t.same(heldBy.slice(1).map((h) => back.get(h.body)), heldBy.slice(1).map((h) => h.receiveCount + 1), 'each with its receive count kept (the next delivery increments it)');

  await clients[1]!.deleteQueue('orders');
  for (const name of ['orders', 'orders#1', 'orders#2']) t.equal(await queueMeta(cluster.etcd.url, name), undefined, `${name} deleted`);
});

t.test('bad partitioning values are refused with the field named', async (t) => {
  const cluster = await startCluster(t, 1);
  const c = await connect(cluster.nodes[0]!.url, { reconnect: false });
  t.teardown(() => c.close());
  const bad: Array<[unknown, string, string]> = [
    ['three', 'InvalidField', 'partitioning'],
    [{ partitions: 0 }, 'ValueOutOfRange', 'partitioning.partitions'],
    [{ partitions: 65 }, 'ValueOutOfRange', 'partitioning.partitions'],
    [{ partitions: 1.5 }, 'InvalidField', 'partitioning.partitions'],
    [{ autoscale: 'yes' }, 'InvalidField', 'partitioning.autoscale'],
    [{ limitBy: 'bytes' }, 'InvalidField', 'partitioning.limitBy'],
    [{ limit: 0 }, 'ValueOutOfRange', 'partitioning.limit'],
    [{ highPct: 101 }, 'ValueOutOfRange', 'partitioning.highPct'],
    [{ lowPct: 80, highPct: 80 }, 'InvalidField', 'partitioning.lowPct'],
    [{ minPartitions: 4, maxPartitions: 2 }, 'InvalidField', 'partitioning.minPartitions'],
    [{ partitions: 5, maxPartitions: 4 }, 'InvalidField', 'partitioning.partitions'],
    [{ shards: 2 }, 'InvalidField', 'partitioning.shards'],
  ];
  for (const [partitioning, code, field] of bad) {
    await t.rejects(c.request('createQueue', { queue: 'q', partitioning } as never), { code, field }, `${JSON.stringify(partitioning)}: ${code} ${field}`);
  }
  await t.rejects(c.request('createQueue', { queue: 'q', attributes: { mode: 'stream' }, partitioning: { partitions: 2 } }), { code: 'InvalidField', field: 'partitioning' });
  await t.rejects(c.request('createQueue', { queue: 'q', attributes: { orderingWindowMs: 100 }, partitioning: {} }), { code: 'InvalidField', field: 'partitioning' });
  t.same((await c.listQueues()).queues, [], 'nothing was created');
  t.equal((await c.request('createQueue', { queue: 'q', partitioning: { partitions: 2 } })).created, true, 'the connection stays usable');
});

t.test('a single node validates partitioning and keeps one partition per queue', async (t) => {
  const broker = await startBroker(t);
  const c = await connect(broker.url, { reconnect: false });
  t.teardown(() => c.close());
  await t.rejects(c.request('createQueue', { queue: 'q', partitioning: { lowPct: 90 } }), { code: 'InvalidField', field: 'partitioning.lowPct' });
  const created = await c.request('createQueue', { queue: 'q', partitioning: { partitions: 4, autoscale: true } });
  t.equal(created.created, true, 'created');
  await c.queue('q').send('one', { groupId: 'a' });
  const attrs = await c.queue('q').attributes();
  t.equal(attrs.stats.messages, 1, 'an ordinary queue');
  t.equal((attrs as { partitions?: unknown }).partitions, undefined, 'no partitions in its attributes');
  t.same((await c.listQueues()).queues, ['q'], 'one queue, no partitions listed');
});
