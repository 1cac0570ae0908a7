// Dead letters of stream consumer groups through a real broker process: the stream and its DLQ on
// different shards (worker threads with their own RocksDB), so each group's copy crosses threads
// through the outbox protocol keyed by (queue, seq, group); per-group receive counts across a
// kill -9 (docs/queue-semantics.md, "Stream mode").
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { waitFor } from './helpers/bounded.js';
import { connect, type FerryClient } from '../src/client/index.js';
import type { DeliveredMessage } from '../src/protocol/ops.js';

const text = (m: DeliveredMessage): string => Buffer.from(m.body).toString();

async function count(client: FerryClient, queue: string): Promise<number> {
  return (await client.getQueueAttributes(queue)).stats.messages;
}

t.test('each group dead-letters its own copy across shards; the other group reads on; counts survive kill -9', async (t) => {
  const broker = await startBroker(t, { shards: 2 });
  let client = await connect(broker.url, { reconnect: false });
  // Placement: on a fresh 2-shard broker the first queue lands on shard 0, the second on shard 1.
  await client.createQueue('dlq');
  await client.createQueue('events', { mode: 'stream', visibilityMs: 200, deadLetter: { queue: 'dlq', maxReceives: 2 } });
  const events = client.queue('events');
  const poison = await events.send('poison');
  await events.send('fine');
  await client.createGroup('events', 'a', 'earliest');
  await client.createGroup('events', 'b', 'earliest');

  // Group a: the first delivery is nacked back, the second one's lease runs out → maxReceives.
  const [a1] = await events.receive({ group: 'a', max: 1 });
  t.equal(text(a1!), 'poison');
  t.type(await events.nack(a1!.receipt), 'number', 'the nack requeues it for a');
  const [a2] = await events.receive({ group: 'a', max: 1 });
  t.same([text(a2!), a2!.receiveCount], ['poison', 2]);
  await waitFor(async () => (await count(client, 'dlq')) === 1, { timeoutMs: 20_000, what: 'a\'s dead letter in the dlq' });
  const [d] = await client.queue('dlq').receive();
  t.equal(text(d!), 'poison');
  t.match(d!.deadLetter, { reason: 'maxReceives', sourceQueue: 'events', originalMessageId: poison.messageId, receiveCount: 2, group: 'a' });
  t.type(d!.deadLetter!.deadLetteredAt, 'number');
  await client.queue('dlq').delete(d!.receipt);
  t.equal(await count(client, 'events'), 2, 'the stream keeps the message');
  const aRest = await events.receive({ group: 'a', max: 10 });
  t.same(aRest.map(text), ['fine'], 'a moved past it');
  await events.deleteBatch(aRest.map((m) => m.receipt));
  t.match((await client.listGroups('events')).find((g) => g.group === 'a'), { committed: 2 }, 'the dead letter counts as acknowledged for a');

  // Group b reads the same message normally, once; then the broker dies with b's lease open.
  const [b1] = await events.receive({ group: 'b', max: 1, visibilityMs: 60_000 });
  t.same([text(b1!), b1!.receiveCount], ['poison', 1]);
  await client.close();
  await broker.kill();
  await broker.start();
  client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  const stream = client.queue('events');
  const [b2] = await stream.receive({ group: 'b', max: 1 });
  t.same([text(b2!), b2!.receiveCount], ['poison', 2], 'b\'s receive count survived the kill');
  t.same(await stream.reject(b2!.receipt), { deadLettered: true }, 'b rejects it for good: its own copy');
  await waitFor(async () => (await count(client, 'dlq')) === 1, { timeoutMs: 20_000, what: 'b\'s dead letter in the dlq' });
  const [e] = await client.queue('dlq').receive();
  t.match(e!.deadLetter, { reason: 'rejected', sourceQueue: 'events', originalMessageId: poison.messageId, receiveCount: 2, group: 'b' });
  t.same((await stream.receive({ group: 'a', max: 10 })).map(text), [], 'a does not see it again after the restart');
  t.same((await stream.receive({ group: 'b', max: 10 })).map(text), ['fine']);
  t.equal(await count(client, 'events'), 2, 'retention, not dead-lettering, removes messages from a stream');
});
