// The SQS features that rest on the broker's queue semantics: FIFO queues (strict ordering per
// message group, deduplication), redrive policies that dead-letter after maxReceiveCount, message
// move tasks, and retention.
import t from 'tap';
import {
  CancelMessageMoveTaskCommand, ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand, ListMessageMoveTasksCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand,
  SetQueueAttributesCommand, StartMessageMoveTaskCommand, type Message, type SQSClient,
} from '@aws-sdk/client-sqs';
import { startBroker } from './helpers/broker.js';
import { eventually, sqsClient } from './helpers/sqs.js';

const arn = (q: string): string => `arn:aws:sqs:us-east-1:000000000000:${q}`;

async function receiveAll(sqs: SQSClient, url: string, visibility = 30): Promise<Message[]> {
  return (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: visibility, MessageSystemAttributeNames: ['All'] }))).Messages ?? [];
}

async function count(sqs: SQSClient, url: string): Promise<number> {
  const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }));
  return Number(a.Attributes!.ApproximateNumberOfMessages) + Number(a.Attributes!.ApproximateNumberOfMessagesNotVisible) + Number(a.Attributes!.ApproximateNumberOfMessagesDelayed);
}

t.test('FIFO, dead letters and move tasks over SQS', async (t) => {
  const broker = await startBroker(t);
  const sqs = sqsClient(t, broker);

  t.test('FIFO queue: attributes, order per group, one group in flight, system attributes', async (t) => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'jobs.fifo', Attributes: { FifoQueue: 'true' } }))).QueueUrl!;
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['FifoQueue', 'ContentBasedDeduplication'] }))).Attributes;
    t.same(attrs, { FifoQueue: 'true', ContentBasedDeduplication: 'false' });
    const seqs: string[] = [];
    for (const [group, body] of [['A', 'a1'], ['B', 'b1'], ['A', 'a2'], ['A', 'a3'], ['B', 'b2']] as const) {
      const r = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: body }));
      t.match(r.SequenceNumber, /^\d{20}$/);
      seqs.push(r.SequenceNumber!);
    }
    t.same([...seqs].sort(), seqs, 'sequence numbers grow');
    const first = await receiveAll(sqs, url);
    const firstA = first.find((m) => m.Attributes?.MessageGroupId === 'A')!;
    t.equal(firstA.Body, 'a1', 'group A starts with a1');
    t.equal(first.find((m) => m.Attributes?.MessageGroupId === 'B')?.Body, 'b1');
    t.match(firstA.Attributes, { MessageGroupId: 'A', SequenceNumber: seqs[0], ApproximateReceiveCount: '1' });
    const inFlight = new Set(first.map((m) => m.Attributes?.MessageGroupId));
    const meanwhile = await receiveAll(sqs, url);
    t.notOk(meanwhile.some((m) => inFlight.has(m.Attributes?.MessageGroupId)), 'nothing more of a group with a message in flight');
    const order: Record<string, string[]> = { A: [], B: [] };
    let pending = [...first, ...meanwhile];
    for (let round = 0; round < 20 && pending.length > 0; round++) {
      for (const m of pending) {
        order[m.Attributes!.MessageGroupId!]!.push(m.Body!);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
      }
      pending = await receiveAll(sqs, url);
    }
    t.same(order, { A: ['a1', 'a2', 'a3'], B: ['b1', 'b2'] }, 'each group in send order');
  });

  t.test('FIFO deduplication: by id, by content, and the errors of a FIFO send', async (t) => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'dedup.fifo', Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' } }))).QueueUrl!;
    const a = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'same', MessageGroupId: 'g' }));
    const b = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'same', MessageGroupId: 'g' }));
    t.equal(b.MessageId, a.MessageId, 'content-based: the second send is the first message');
    const c = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'other body', MessageGroupId: 'g', MessageDeduplicationId: 'id-1' }));
    const d = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'third body', MessageGroupId: 'g', MessageDeduplicationId: 'id-1' }));
    t.equal(d.MessageId, c.MessageId, 'same MessageDeduplicationId: deduplicated');
    t.equal(await count(sqs, url), 2);

    const plain = (await sqs.send(new CreateQueueCommand({ QueueName: 'plain.fifo', Attributes: { FifoQueue: 'true' } }))).QueueUrl!;
    const noDedup = await sqs.send(new SendMessageCommand({ QueueUrl: plain, MessageBody: 'x', MessageGroupId: 'g' })).catch((e: unknown) => e as Error);
    t.equal(noDedup.name, 'InvalidParameterValue', 'no dedup id and no content-based dedup');
    const noGroup = await sqs.send(new SendMessageCommand({ QueueUrl: plain, MessageBody: 'x', MessageDeduplicationId: 'd' })).catch((e: unknown) => e as Error);
    t.equal(noGroup.name, 'MissingParameter');
    const delay = await sqs.send(new SendMessageCommand({ QueueUrl: plain, MessageBody: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'd', DelaySeconds: 5 })).catch((e: unknown) => e as Error);
    t.equal(delay.name, 'InvalidParameterValue', 'no per-message delay on FIFO queues');
    const batch = await sqs.send(new SendMessageBatchCommand({ QueueUrl: plain, Entries: [{ Id: 'ok', MessageBody: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'd1' }, { Id: 'nodedup', MessageBody: 'y', MessageGroupId: 'g' }] }));
    t.same(batch.Successful?.map((s) => s.Id), ['ok']);
    t.same(batch.Failed?.map((f) => [f.Id, f.Code]), [['nodedup', 'InvalidParameterValue']]);
  });

  t.test('RedrivePolicy dead-letters after maxReceiveCount; ListDeadLetterSourceQueues', async (t) => {
    const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'work-dlq' }))).QueueUrl!;
    const policy = JSON.stringify({ deadLetterTargetArn: arn('work-dlq'), maxReceiveCount: 2 });
    const work = (await sqs.send(new CreateQueueCommand({ QueueName: 'work', Attributes: { RedrivePolicy: policy } }))).QueueUrl!;
    const got = JSON.parse((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: work, AttributeNames: ['RedrivePolicy'] }))).Attributes!.RedrivePolicy!) as unknown;
    t.same(got, { deadLetterTargetArn: arn('work-dlq'), maxReceiveCount: 2 });
    t.same((await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }))).queueUrls, [work]);

    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'poison' }));
    for (let i = 1; i <= 2; i++) {
      const [m] = await receiveAll(sqs, work);
      t.equal(m?.Attributes?.ApproximateReceiveCount, String(i), `delivery ${i}`);
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: work, ReceiptHandle: m!.ReceiptHandle!, VisibilityTimeout: 0 }));
    }
    t.same(await receiveAll(sqs, work), [], 'not delivered a third time');
    const dead = await eventually(async () => (await receiveAll(sqs, dlq))[0]);
    t.equal(dead.Body, 'poison');
    t.equal(dead.Attributes?.DeadLetterQueueSourceArn, arn('work'));
    t.ok(sent.MessageId);
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: dlq, ReceiptHandle: dead.ReceiptHandle!, VisibilityTimeout: 0 }));

    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: work, Attributes: { RedrivePolicy: '' } }));
    t.equal((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: work, AttributeNames: ['RedrivePolicy'] }))).Attributes, undefined, 'an empty RedrivePolicy removes it');
    t.same((await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }))).queueUrls, []);
  });

  t.test('message move tasks: back to the source, listed, cancelled', async (t) => {
    const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'move-dlq' }))).QueueUrl!;
    const src = (await sqs.send(new CreateQueueCommand({ QueueName: 'move-src', Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn('move-dlq'), maxReceiveCount: 1 }) } }))).QueueUrl!;
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: src, Entries: Array.from({ length: 5 }, (_, i) => ({ Id: `m${i}`, MessageBody: `m${i}` })) }));
    for (let round = 0; round < 10 && (await count(sqs, dlq)) < 5; round++) {
      for (const m of await receiveAll(sqs, src)) await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: src, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
      await receiveAll(sqs, src);
    }
    await eventually(async () => ((await count(sqs, dlq)) === 5 ? true : undefined));

    const slow = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn('move-dlq'), MaxNumberOfMessagesPerSecond: 1 }));
    t.ok(slow.TaskHandle);
    const listed = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: arn('move-dlq') }));
    t.match(listed.Results?.[0], { Status: 'RUNNING', SourceArn: arn('move-dlq'), TaskHandle: slow.TaskHandle, MaxNumberOfMessagesPerSecond: 1 });
    const cancelled = await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: slow.TaskHandle! }));
    t.type(cancelled.ApproximateNumberOfMessagesMoved, 'number');
    t.equal((await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: arn('move-dlq') }))).Results?.[0]?.Status, 'CANCELLED');

    await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn('move-dlq') }));
    await eventually(async () => ((await count(sqs, dlq)) === 0 ? true : undefined));
    t.equal(await count(sqs, src), 5, 'every message back in its source queue');
    const done = await eventually(async () => {
      const r = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: arn('move-dlq') }))).Results?.[0];
      return r?.Status === 'COMPLETED' ? r : undefined;
    });
    t.equal(done.TaskHandle, undefined, 'no handle once finished');
    const late = await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: slow.TaskHandle! })).catch((e: unknown) => e as Error);
    t.equal(late.name, 'UnsupportedOperation', 'a task that is not running cannot be cancelled');
  });

  t.test('MessageRetentionPeriod round trip', async (t) => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'retained', Attributes: { MessageRetentionPeriod: '120' } }))).QueueUrl!;
    t.same((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['MessageRetentionPeriod'] }))).Attributes, { MessageRetentionPeriod: '120' });
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { MessageRetentionPeriod: '86400' } }));
    t.same((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['MessageRetentionPeriod'] }))).Attributes, { MessageRetentionPeriod: '86400' });
  });
});
