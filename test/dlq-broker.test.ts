// Dead-letter queues through a real broker process: the DLQ on another shard (another worker
// thread with its own RocksDB) than its source, so every move crosses threads through the outbox
// protocol (docs/queue-semantics.md, "Moving a message between queues"); unroutable sends; cycles;
// redrive with progress and cancel; and kill -9 while messages are being dead-lettered.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { connect, type FerryClient } from '../src/client/index.js';
import type { DeliveredMessage } from '../src/protocol/ops.js';

const text = (m: DeliveredMessage): string => Buffer.from(m.body).toString();

/** Polls `check` every 50 ms until it returns true; fails after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function count(client: FerryClient, queue: string): Promise<number> {
  return (await client.getQueueAttributes(queue)).stats.messages;
}

/** Receives and deletes everything currently deliverable in `queue`. */
async function drain(client: FerryClient, queue: string): Promise<DeliveredMessage[]> {
  const out: DeliveredMessage[] = [];
  for (let round = 0; round < 1000; round++) {
    const got = await client.queue(queue).receive({ max: 1000, visibilityMs: 60_000 });
    if (got.length === 0) break;
    await client.queue(queue).deleteBatch(got.map((m) => m.receipt));
    out.push(...got);
  }
  return out;
}

/**
 * Placement puts a new queue on the shard with the fewest queues (ties: the lowest index), so on a
 * fresh 2-shard broker the first queue lands on shard 0 and the second on shard 1.
 */
async function crossShardPair(client: FerryClient, maxReceives = 2): Promise<void> {
  await client.createQueue('dlq');
  await client.createQueue('src', { visibilityMs: 200, deadLetter: { queue: 'dlq', maxReceives } });
}

t.test('cross-shard dead-lettering: maxReceives, rejected, queueDeleted; cycles and missing DLQs refused', async (t) => {
  const broker = await startBroker(t, { shards: 2 });
  const client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  await crossShardPair(client);
  const src = client.queue('src');
  const sent = await src.send('poison', { attributes: { a: '1' } });
  for (let i = 1; i <= 2; i++) {
    const [m] = await src.receive({ waitMs: 5000 });
    t.equal(m!.receiveCount, i);
    // First delivery: nacked back; second: its lease runs out, and maxReceives (2) is reached.
    if (i === 1) t.type(await src.nack(m!.receipt), 'number', 'the nack requeues it');
  }
  await until('the dead letter to arrive', async () => (await count(client, 'dlq')) === 1);
  const [d] = await client.queue('dlq').receive();
  t.equal(text(d!), 'poison');
  t.same(d!.attributes, { a: '1' });
  t.match(d!.deadLetter, { reason: 'maxReceives', sourceQueue: 'src', originalMessageId: sent.messageId, receiveCount: 2 });
  await client.queue('dlq').delete(d!.receipt);

  await src.send('bad');
  const [b] = await src.receive({ waitMs: 5000 });
  t.same(await src.reject(b!.receipt), { deadLettered: true });
  await until('the rejected message', async () => (await count(client, 'dlq')) === 1);
  t.match(await client.queue('dlq').receive(), [{ deadLetter: { reason: 'rejected' } }]);

  await t.rejects(client.setQueueAttributes('dlq', { deadLetter: { queue: 'src', maxReceives: 1 } }), { code: 'InvalidAttribute', field: 'attributes.deadLetter.queue' }, 'a cycle is refused');
  await t.rejects(client.setQueueAttributes('src', { deadLetter: { queue: 'src', maxReceives: 1 } }), { code: 'InvalidAttribute', field: 'attributes.deadLetter.queue' }, 'self is refused');
  await t.rejects(client.createQueue('x', { deadLetter: { queue: 'nope', maxReceives: 1 } }), { code: 'QueueDoesNotExist', field: 'attributes.deadLetter.queue' });

  for (let i = 0; i < 50; i++) await src.send(`left${i}`);
  await client.deleteQueue('src');
  await until('every message of the deleted queue', async () => (await count(client, 'dlq')) === 51);
  const left = (await drain(client, 'dlq')).filter((m) => m.deadLetter?.reason === 'queueDeleted');
  t.equal(left.length, 50);
});

t.test('unroutable sends are kept in the broker-wide queue and the producer is told', async (t) => {
  const broker = await startBroker(t, { shards: 2, args: ['--unroutable-queue', 'lost'] });
  const client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  await t.rejects(client.queue('ghost').send('hello'), { code: 'QueueDoesNotExist' }, 'without the keeper queue: a plain error');
  await client.createQueue('lost');
  await t.rejects(client.queue('ghost').send('hello', { groupId: 'g' }), { code: 'QueueDoesNotExist', keptIn: 'lost' });
  const [m] = await client.queue('lost').receive();
  t.equal(text(m!), 'hello');
  t.equal(m!.groupId, 'g');
  t.match(m!.deadLetter, { reason: 'noSuchQueue', sourceQueue: 'ghost', receiveCount: 0 });
});

t.test('redrive: progress, cancel, and a full redrive back to the source queue', async (t) => {
  const broker = await startBroker(t, { shards: 2 });
  const client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  await crossShardPair(client, 1);
  const src = client.queue('src');
  const n = 300;
  await src.sendBatch(Array.from({ length: n }, (_, i) => `m${i}`));
  for (let got = 0; got < n;) {
    const batch = await src.receive({ max: 100, visibilityMs: 60_000 });
    for (const m of batch) await src.reject(m.receipt);
    got += batch.length;
  }
  await until('all dead-lettered', async () => (await count(client, 'dlq')) === n);

  const slow = await client.startRedrive('dlq', { ratePerSec: 100, max: 200 });
  t.match(slow, { queue: 'dlq', state: 'running', moved: 0, total: 200, ratePerSec: 100 });
  await until('some progress', async () => ((await client.listRedrives()).find((x) => x.task === slow.task)?.moved ?? 0) >= 20);
  const cancelled = await client.cancelRedrive(slow.task);
  t.equal(cancelled.state, 'cancelled');
  t.ok(cancelled.moved > 0 && cancelled.moved < 200, `stopped part-way (${cancelled.moved})`);
  await until('moved ones arrive', async () => (await count(client, 'src')) === cancelled.moved);
  t.equal(await count(client, 'dlq'), n - cancelled.moved, 'the rest stay in the DLQ');
  await t.rejects(client.cancelRedrive('nope'), { code: 'InvalidField', field: 'task' });

  const all = await client.startRedrive('dlq', { ratePerSec: 10_000 });
  await until('the full redrive to end', async () => (await client.listRedrives()).find((x) => x.task === all.task)?.state === 'done');
  await until('everything back', async () => (await count(client, 'src')) === n);
  const back = await drain(client, 'src');
  t.same(new Set(back.map(text)).size, n, 'every message back once');
  t.ok(back.every((m) => m.deadLetter === undefined), 'back in the source as fresh messages');
});

t.test('kill -9 while messages are being dead-lettered across shards: each is in exactly one queue', async (t) => {
  const broker = await startBroker(t, { shards: 2 });
  let client = await connect(broker.url, { reconnect: false });
  await crossShardPair(client, 5);
  const src = client.queue('src');
  const n = 2000;
  for (let i = 0; i < n; i += 500) await src.sendBatch(Array.from({ length: 500 }, (_, j) => `m${i + j}`));
  const rejected = new Set<string>();
  // Reject as fast as possible, and kill the broker in the middle of it.
  const rejecting = (async () => {
    for (;;) {
      const batch = await src.receive({ max: 200, visibilityMs: 60_000 });
      if (batch.length === 0) return;
      await Promise.all(batch.map(async (m) => {
        const r = await src.reject(m.receipt);
        if (r.deadLettered === true) rejected.add(text(m));
      }));
    }
  })().catch(() => undefined);
  await until('some rejects acknowledged', async () => rejected.size >= 300);
  await broker.kill();
  await rejecting;
  await client.close().catch(() => undefined);
  t.ok(rejected.size < n, `killed part-way (${rejected.size} rejects acknowledged)`);

  await broker.start();
  client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  await until('outboxes replayed', async () => (await count(client, 'src')) + (await count(client, 'dlq')) === n);
  const inSrc = await drain(client, 'src');
  const inDlq = await drain(client, 'dlq');
  const seen = new Map<string, number>();
  for (const m of [...inSrc, ...inDlq]) seen.set(text(m), (seen.get(text(m)) ?? 0) + 1);
  t.equal(seen.size, n, 'nothing lost');
  t.ok([...seen.values()].every((c) => c === 1), 'nothing in both queues, nothing twice');
  const dlqBodies = new Set(inDlq.map(text));
  t.ok([...rejected].every((b) => dlqBodies.has(b)), 'every acknowledged reject is in the DLQ');
  t.ok(inDlq.every((m) => m.deadLetter?.reason === 'rejected'));
});
