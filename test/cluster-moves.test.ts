// Moves between queues in a cluster (docs/cluster.md, "Moves between queues"): dead letters,
// redrive and unroutable sends whose source and target are led by different nodes, so every move
// crosses the cluster — the source's leader carries it to the target's leader over a peer link,
// and acknowledges it to the source only once the target's write is replicated. Real processes,
// real etcd. (kill -9 during dead-lettering: cluster-moves-failover.test.ts.)
import t from 'tap';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { connect, FerryError, type FerryClient } from '../src/client/index.js';
import type { DeliveredMessage } from '../src/protocol/ops.js';
import { queueMeta, startCluster, waitFor, waitForMembers } from './helpers/cluster.js';
import { drainQueue } from './helpers/drain.js';
import { count, leaders, waitForCount } from './helpers/moves.js';
import { sqsClient } from './helpers/sqs.js';

const text = (m: DeliveredMessage): string => Buffer.from(m.body).toString();

async function failure(p: Promise<unknown>): Promise<FerryError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof FerryError)) throw new Error(`expected a FerryError, got ${String(err)}`);
  return err;
}


t.test('dead letters, redrive and unroutable sends across nodes', async (t) => {
  const cluster = await startCluster(t, 3, { args: ['--unroutable-queue', 'lost'] });
  await waitForMembers(cluster);
  const clients = await Promise.all(cluster.nodes.map((n) => connect(n.url, { reconnect: false, requestTimeoutMs: 30_000 })));
  t.teardown(() => Promise.all(clients.map((c) => c.close())));
  const [c1, c2, c3] = clients as [FerryClient, FerryClient, FerryClient];

  // Placement: least-loaded node first, ties by node id → dlq on n1, src on n2, ovf on n3, lost on n1.
  await c3.createQueue('dlq');
  await c3.createQueue('src', { visibilityMs: 200, deadLetter: { queue: 'dlq', maxReceives: 2 } });
  await c3.createQueue('ovf', { maxLength: 1, overflow: 'deadLetterNew', deadLetter: { queue: 'dlq', maxReceives: 5 } });
  await c3.createQueue('lost');
  const [dlqLeader, srcLeader, ovfLeader] = await leaders(cluster, ['dlq', 'src', 'ovf']);
  t.not(dlqLeader, srcLeader, 'the source and its DLQ are led by different nodes');
  t.not(dlqLeader, ovfLeader, 'so are the overflowing queue and the DLQ');
  const bystander = clients[[0, 1, 2].find((i) => `n${i + 1}` !== dlqLeader && `n${i + 1}` !== srcLeader)!]!;

  t.test('maxReceives, ttl expiry and overflow dead-letter to the other node', async (t) => {
    const poison = await c1.queue('src').send('poison', { attributes: { k: 'v' } });
    const [first] = await c2.queue('src').receive({ waitMs: 5000 });
    t.equal(first?.receiveCount, 1);
    await c2.queue('src').nack(first!.receipt);
    const [second] = await c3.queue('src').receive({ waitMs: 5000 });
    t.equal(second?.receiveCount, 2, 'second delivery; its lease runs out and maxReceives is reached');
    await c1.queue('src').send('short', { ttlMs: 300 });
    await c1.queue('ovf').send('first');
    const over = await c2.queue('ovf').send('second');
    t.equal(over.deadLettered, true, 'the full queue dead-letters the new message');
    await waitForCount(c1, 'dlq', 3);
    t.equal(await count(c1, 'src'), 0, 'the source gave both up');

    const got = (await c2.queue('dlq').receive({ max: 10, visibilityMs: 60_000 }));
    const byBody = new Map(got.map((m) => [text(m), m]));
    t.same([...byBody.keys()].sort(), ['poison', 'second', 'short'], 'each dead letter arrived once');
    t.match(byBody.get('poison'), { attributes: { k: 'v' }, deadLetter: { reason: 'maxReceives', sourceQueue: 'src', originalMessageId: poison.messageId, receiveCount: 2 } });
    t.match(byBody.get('short'), { deadLetter: { reason: 'expired', sourceQueue: 'src' } });
    t.match(byBody.get('second'), { deadLetter: { reason: 'overflow', sourceQueue: 'ovf' } });
    // Visible again, for the redrive below (it skips leased messages).
    for (const m of got) await c2.queue('dlq').nack(m.receipt);
  });

  t.test('redrive through a node that leads neither queue', async (t) => {
    const task = await bystander.request('startRedrive', { queue: 'dlq' });
    t.equal(task.task.startsWith(`${dlqLeader}.`), true, 'the task runs on the node that leads the DLQ');
    t.equal(task.total, 3);
    const listed = await waitFor('the redrive to finish', async () => {
      const tasks = (await c3.request('listRedrives', {})).tasks;
      const mine = tasks.find((x) => x.task === task.task);
      return mine?.state === 'done' ? mine : undefined;
    });
    t.match(listed, { queue: 'dlq', moved: 3, total: 3 }, 'listed from another node, with its progress');
    await waitForCount(c1, 'dlq', 0);
    await waitForCount(c1, 'src', 2);
    await waitForCount(c1, 'ovf', 2);
    const back = await c1.queue('src').receive({ max: 10, visibilityMs: 60_000 });
    t.same(back.map(text).sort(), ['poison', 'short'], 'each message back in its source queue, once');
    t.same(back.map((m) => m.deadLetter), [undefined, undefined], 'a redriven message starts a fresh life');
    t.same(back.map((m) => m.receiveCount), [1, 1]);
    await c1.queue('src').deleteBatch(back.map((m) => m.receipt));
    t.same((await drainQueue(c2, 'ovf')).map((m) => m.body).sort(), ['first', 'second']);

    const cancelled = await c2.request('cancelRedrive', { task: task.task });
    t.equal(cancelled.state, 'done', 'cancelling a finished task (through another node) answers its state');
  });

  t.test('bad redrive and dead-letter requests get clear errors; the connection stays usable', async (t) => {
    t.match(await failure(bystander.request('cancelRedrive', { task: 'nope' })), { code: 'InvalidField', field: 'task' });
    t.match(await failure(bystander.request('cancelRedrive', { task: 'n9.abcdef' })), { code: 'InvalidField', field: 'task' });
    t.match(await failure(bystander.request('startRedrive', { queue: 'missing' })), { code: 'QueueDoesNotExist', field: 'queue' });
    t.match(await failure(bystander.request('startRedrive', { queue: 'dlq', target: 'missing' })), { code: 'QueueDoesNotExist', field: 'target' });
    t.match(await failure(bystander.request('createQueue', { queue: 'x', attributes: { deadLetter: { queue: 'missing', maxReceives: 1 } } })), { code: 'QueueDoesNotExist', field: 'attributes.deadLetter.queue' });
    t.equal((await bystander.request('listQueues', {})).queues.includes('x'), false, 'the refused queue was not created');
    t.match(await failure(bystander.request('setQueueAttributes', { queue: 'dlq', attributes: { deadLetter: { queue: 'src', maxReceives: 1 } } })), { code: 'InvalidAttribute', field: 'attributes.deadLetter.queue' }, 'a cycle across nodes is refused');
    t.ok((await bystander.queue('src').send('still serving')).messageId);
    t.same((await drainQueue(bystander, 'src')).map((m) => m.body), ['still serving']);
  });

  t.test('deleting a queue dead-letters what it held to the DLQ on another node', async (t) => {
    await c1.createQueue('doomed', { deadLetter: { queue: 'dlq', maxReceives: 3 } });
    t.not((await queueMeta(cluster.etcd.url, 'doomed'))!.leader, dlqLeader, 'led by another node than the DLQ');
    const bodies = Array.from({ length: 20 }, (_, i) => `d${i}`);
    await c1.queue('doomed').sendBatch(bodies.map((body) => ({ body })));
    await c2.deleteQueue('doomed');
    await waitForCount(c1, 'dlq', 20);
    const got = await c3.queue('dlq').receive({ max: 100, visibilityMs: 60_000 });
    t.same(got.map(text).sort(), [...bodies].sort(), 'each message once');
    t.equal(got.every((m) => m.deadLetter?.reason === 'queueDeleted' && m.deadLetter.sourceQueue === 'doomed'), true, 'reason queueDeleted');
    await c3.queue('dlq').deleteBatch(got.map((m) => m.receipt));
  });

  t.test('deleting a queue of 3,000 dead-letters every one of them, past the 1,000 a shard keeps in flight', async (t) => {
    await c1.createQueue('doomed-big', { deadLetter: { queue: 'dlq', maxReceives: 3 } });
    t.not((await queueMeta(cluster.etcd.url, 'doomed-big'))!.leader, dlqLeader, 'led by another node than the DLQ');
    const n = 3000;
    for (let i = 0; i < n; i += 500) await c1.queue('doomed-big').sendBatch(Array.from({ length: 500 }, (_, k) => ({ body: `b${i + k}` })));
    // The nodes discard their copies as soon as etcd has the deletion, while most moves are still
    // on their way: the node that led the queue carries them to the end.
    await c2.deleteQueue('doomed-big');
    await waitForCount(c1, 'dlq', n, 60_000);
    const bodies = new Set<string>();
    for (let round = 0; round < 40 && bodies.size < n; round++) {
      const got = await c3.queue('dlq').receive({ max: 100, visibilityMs: 60_000 });
      for (const m of got) bodies.add(text(m));
      if (got.length > 0) await c3.queue('dlq').deleteBatch(got.map((m) => m.receipt));
    }
    t.equal(bodies.size, n, 'each message once');
    t.equal(await count(c1, 'dlq'), 0);
  });

  t.test('two stream groups dead-letter their own copies to the DLQ on another node', async (t) => {
    await c1.createQueue('st', { mode: 'stream', deadLetter: { queue: 'dlq', maxReceives: 1 } });
    t.not((await queueMeta(cluster.etcd.url, 'st'))!.leader, dlqLeader, 'led by another node than the DLQ');
    for (const group of ['g1', 'g2']) await c1.request('createGroup', { queue: 'st', group, start: 'earliest' });
    await c1.queue('st').send('event');
    for (const group of ['g1', 'g2']) {
      const [m] = (await c2.request('receive', { queue: 'st', group, max: 1, waitMs: 5000 })).messages;
      t.match(await c2.request('nack', { queue: 'st', receipt: m!.receipt, requeue: false }), { deadLettered: true }, `${group} gives up on it`);
    }
    await waitForCount(c1, 'dlq', 2);
    const got = await c3.queue('dlq').receive({ max: 10, visibilityMs: 60_000 });
    t.same(got.map((m) => m.deadLetter?.group).sort(), ['g1', 'g2'], 'one copy per group: two moves of one message');
    t.equal(got.every((m) => text(m) === 'event' && m.deadLetter?.reason === 'rejected' && m.deadLetter.sourceQueue === 'st'), true);
    await c3.queue('dlq').deleteBatch(got.map((m) => m.receipt));
  });

  t.test('unroutable sends are kept in the cluster\'s unroutable queue, led by another node', async (t) => {
    const lostLeader = (await queueMeta(cluster.etcd.url, 'lost'))!.leader;
    const elsewhere = clients[Number(lostLeader.slice(1)) % 3]!;
    t.match(await failure(elsewhere.queue('ghost').send('hello', { groupId: 'g' })), { code: 'QueueDoesNotExist', keptIn: 'lost' });
    t.match(await failure(elsewhere.queue('ghost').sendBatch([{ body: 'a' }, { body: 'b' }])), { code: 'QueueDoesNotExist', keptIn: 'lost' });
    const receiving = await failure(elsewhere.queue('ghost').receive());
    t.equal(receiving.code, 'QueueDoesNotExist');
    t.equal(receiving.keptIn, undefined, 'only sends are kept');
    const kept = await c3.queue('lost').receive({ max: 10 });
    t.same(kept.map(text).sort(), ['a', 'b', 'hello']);
    for (const m of kept) t.match(m.deadLetter, { reason: 'noSuchQueue', sourceQueue: 'ghost' });
    t.equal(kept.find((m) => text(m) === 'hello')?.groupId, 'g');
  });
});

t.test('SQS RedrivePolicy through the AWS SDK on a cluster node', async (t) => {
  const cluster = await startCluster(t, 3);
  await waitForMembers(cluster);
  // Through the node that will lead neither queue (n3: work-dlq goes to n1, work to n2).
  const sqs = sqsClient(t, cluster.nodes[2]!);
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'work-dlq' }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const workUrl = (await sqs.send(new CreateQueueCommand({
    QueueName: 'work', Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 1 }) },
  }))).QueueUrl!;
  const [dlqLeader, workLeader] = await leaders(cluster, ['work-dlq', 'work']);
  t.not(dlqLeader, workLeader, 'the queue and its DLQ are led by different nodes');

  const client = await connect(cluster.nodes[0]!.url, { reconnect: false });
  t.teardown(() => client.close());
  await client.queue('work').send('poison');
  const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: workUrl, VisibilityTimeout: 0, WaitTimeSeconds: 5 }));
  t.equal(got.Messages?.[0]?.Body, 'poison', 'received once; its lease ends at once and maxReceiveCount is reached');
  await waitForCount(client, 'work-dlq', 1);
  const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 5 }));
  t.equal(dead.Messages?.[0]?.Body, 'poison');
  t.match(dead.Messages?.[0]?.Attributes?.DeadLetterQueueSourceArn, /:work$/);
});
