// The SQS API through the real @aws-sdk/client-sqs against a real broker process: every action on
// standard queues, long polls, visibility expiry and redelivery, attributes and their digests.
import t from 'tap';
import {
  AddPermissionCommand, ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand, CreateQueueCommand,
  DeleteMessageBatchCommand, DeleteMessageCommand, DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand, ListQueueTagsCommand, ListQueuesCommand, PurgeQueueCommand, ReceiveMessageCommand,
  RemovePermissionCommand, SendMessageBatchCommand, SendMessageCommand, SetQueueAttributesCommand, TagQueueCommand,
  UntagQueueCommand, QueueDoesNotExist, QueueNameExists, type SQSClient,
} from '@aws-sdk/client-sqs';
import { startBroker } from './helpers/broker.js';
import { eventually, sqsClient } from './helpers/sqs.js';
import { md5OfAttributes } from '../src/transport/sqs/md5.js';

async function createQueue(sqs: SQSClient, name: string, attributes?: Record<string, string>): Promise<string> {
  const r = await sqs.send(new CreateQueueCommand({ QueueName: name, ...(attributes === undefined ? {} : { Attributes: attributes }) }));
  return r.QueueUrl!;
}

t.test('SQS API on standard queues', async (t) => {
  const broker = await startBroker(t);
  const sqs = sqsClient(t, broker);

  t.test('CreateQueue, GetQueueUrl, idempotent create, QueueNameExists', async (t) => {
    const url = await createQueue(sqs, 'orders', { VisibilityTimeout: '45', DelaySeconds: '0' });
    t.equal(url, `${broker.httpUrl}/000000000000/orders`);
    t.equal(await createQueue(sqs, 'orders', { VisibilityTimeout: '45' }), url, 'same attributes: same queue');
    const err = await sqs.send(new CreateQueueCommand({ QueueName: 'orders', Attributes: { VisibilityTimeout: '10' } })).catch((e: unknown) => e);
    t.ok(err instanceof QueueNameExists, 'different attributes: QueueNameExists');
    t.equal((err as QueueNameExists).$metadata.httpStatusCode, 400);
    t.equal((err as QueueNameExists & { Code?: string }).Code, 'QueueAlreadyExists', 'the query-compatible code');
    const got = await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders' }));
    t.equal(got.QueueUrl, url);
    const missing = await sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' })).catch((e: unknown) => e);
    t.ok(missing instanceof QueueDoesNotExist);
    t.equal((missing as QueueDoesNotExist).$metadata.httpStatusCode, 400);
    t.equal((missing as QueueDoesNotExist & { Code?: string }).Code, 'AWS.SimpleQueueService.NonExistentQueue');
  });

  t.test('ListQueues with prefix and paging', async (t) => {
    for (const n of ['list-a', 'list-b', 'list-c', 'other']) await createQueue(sqs, n);
    const all = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'list-' }));
    t.same(all.QueueUrls?.map((u) => u.split('/').pop()), ['list-a', 'list-b', 'list-c']);
    t.equal(all.NextToken, undefined, 'no token without MaxResults');
    const p1 = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'list-', MaxResults: 2 }));
    t.same(p1.QueueUrls?.map((u) => u.split('/').pop()), ['list-a', 'list-b']);
    t.ok(p1.NextToken);
    const p2 = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'list-', MaxResults: 2, NextToken: p1.NextToken }));
    t.same(p2.QueueUrls?.map((u) => u.split('/').pop()), ['list-c']);
    t.equal(p2.NextToken, undefined);
    const none = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'zzz' }));
    t.equal(none.QueueUrls, undefined);
  });

  t.test('GetQueueAttributes and SetQueueAttributes', async (t) => {
    const url = await createQueue(sqs, 'attrs');
    const before = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
    t.match(before.Attributes, {
      VisibilityTimeout: '30', DelaySeconds: '0', ReceiveMessageWaitTimeSeconds: '0', MaximumMessageSize: '262144',
      QueueArn: 'arn:aws:sqs:us-east-1:000000000000:attrs', ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0', CreatedTimestamp: /^\d+$/,
    });
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '60', DelaySeconds: '2', ReceiveMessageWaitTimeSeconds: '1', MaximumMessageSize: '2048', Policy: '{"Version":"2012-10-17","Statement":[]}' } }));
    const after = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout', 'DelaySeconds', 'ReceiveMessageWaitTimeSeconds', 'MaximumMessageSize', 'Policy'] }));
    t.same(after.Attributes, { VisibilityTimeout: '60', DelaySeconds: '2', ReceiveMessageWaitTimeSeconds: '1', MaximumMessageSize: '2048', Policy: '{"Version":"2012-10-17","Statement":[]}' });
    const none = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url }));
    t.equal(none.Attributes, undefined, 'no names: no attributes');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'delayed by the queue default' }));
    const counts = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessagesDelayed'] }));
    t.same(counts.Attributes, { ApproximateNumberOfMessagesDelayed: '1' });
  });

  t.test('SendMessage / ReceiveMessage with every attribute type and correct digests', async (t) => {
    const url = await createQueue(sqs, 'typed');
    const attrs = {
      s: { DataType: 'String', StringValue: 'héllo' },
      n: { DataType: 'Number', StringValue: '42.5' },
      b: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 1, 2, 250]) },
      'custom.s': { DataType: 'String.json', StringValue: '{"a":1}' },
      'custom.n': { DataType: 'Number.int', StringValue: '-7' },
      'custom.b': { DataType: 'Binary.png', BinaryValue: new Uint8Array([137, 80]) },
    };
    const wire = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, 'BinaryValue' in v
      ? { DataType: v.DataType, BinaryValue: Buffer.from(v.BinaryValue).toString('base64') }
      : v]));
    const sent = await sqs.send(new SendMessageCommand({
      QueueUrl: url, MessageBody: 'body ✓ \u{1F600}', MessageAttributes: attrs,
      MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: 'Root=1-5759e988-bd862e3fe1be46a994272793' } },
    }));
    t.ok(sent.MessageId);
    t.equal(sent.MD5OfMessageAttributes, md5OfAttributes(wire), 'MD5OfMessageAttributes');
    t.ok(sent.MD5OfMessageSystemAttributes);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
    t.equal(got.Messages?.length, 1);
    const m = got.Messages![0]!;
    t.equal(m.Body, 'body ✓ \u{1F600}');
    t.equal(m.MessageId, sent.MessageId);
    t.equal(m.MD5OfMessageAttributes, sent.MD5OfMessageAttributes);
    t.same(m.MessageAttributes?.s, { DataType: 'String', StringValue: 'héllo' });
    t.same(m.MessageAttributes?.['custom.n'], { DataType: 'Number.int', StringValue: '-7' });
    t.same(Buffer.from(m.MessageAttributes!.b!.BinaryValue!), Buffer.from([0, 1, 2, 250]));
    t.equal(m.MessageAttributes?.['custom.b']?.DataType, 'Binary.png');
    t.match(m.Attributes, {
      ApproximateReceiveCount: '1', SentTimestamp: /^\d{13}$/, ApproximateFirstReceiveTimestamp: /^\d{13}$/,
      SenderId: '000000000000', AWSTraceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793',
    });
    t.equal(m.Attributes?.SequenceNumber, undefined, 'no SequenceNumber on a standard queue');

    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'selected', MessageAttributes: attrs }));
    const sel = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames: ['s', 'custom.*'], MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    const ms = sel.Messages![0]!;
    t.same(Object.keys(ms.MessageAttributes!).sort(), ['custom.b', 'custom.n', 'custom.s', 's']);
    t.equal(ms.MD5OfMessageAttributes, md5OfAttributes(Object.fromEntries(Object.entries(wire).filter(([k]) => k === 's' || k.startsWith('custom.')))), 'digest of the selected attributes');
    t.same(ms.Attributes, { ApproximateReceiveCount: '1' });
    const bare = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'no attributes', MessageGroupId: 'tenant-1' }));
    t.equal(bare.MD5OfMessageAttributes, undefined);
    t.equal(bare.SequenceNumber, undefined, 'a MessageGroupId (fair-queue tenant) is accepted on a standard queue');
  });

  t.test('long polls wait, and return early when a message arrives', async (t) => {
    const url = await createQueue(sqs, 'longpoll');
    const started = Date.now();
    const empty = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }));
    t.equal(empty.Messages, undefined);
    t.ok(Date.now() - started >= 900, 'an empty long poll waits its time');
    const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 }));
    await new Promise((r) => setTimeout(r, 200));
    const sentAt = Date.now();
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'wake up' }));
    const got = await waiting;
    t.equal(got.Messages?.[0]?.Body, 'wake up');
    t.ok(Date.now() - sentAt < 10_000, 'returned on arrival, well before its 20 s');
    // The queue's ReceiveMessageWaitTimeSeconds is the default wait.
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { ReceiveMessageWaitTimeSeconds: '1' } }));
    const t0 = Date.now();
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
    t.ok(Date.now() - t0 >= 900, 'queue default wait applies');
  });

  t.test('a long poll whose client goes away does not take a message', async (t) => {
    const url = await createQueue(sqs, 'abandoned');
    const abort = new AbortController();
    const poll = fetch(`${broker.httpUrl}/`, {
      method: 'POST', signal: abort.signal,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ReceiveMessage' },
      body: JSON.stringify({ QueueUrl: url, WaitTimeSeconds: 20 }),
    }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    await poll;
    await new Promise((r) => setTimeout(r, 200));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'for the one who stays' }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 5 }));
    t.equal(got.Messages?.[0]?.Body, 'for the one who stays');
  });

  t.test('visibility expiry, redelivery, stale receipts, ChangeMessageVisibility', async (t) => {
    const url = await createQueue(sqs, 'visibility');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'again' }));
    const first = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 1, MessageSystemAttributeNames: ['All'] }))).Messages![0]!;
    t.equal(first.Attributes?.ApproximateReceiveCount, '1');
    t.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages, undefined, 'invisible while leased');
    const second = await eventually(async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ['All'], VisibilityTimeout: 30 }))).Messages?.[0]);
    t.equal(second.MessageId, first.MessageId, 'redelivered after the timeout');
    t.equal(second.Attributes?.ApproximateReceiveCount, '2');
    t.equal(second.Attributes?.ApproximateFirstReceiveTimestamp, first.Attributes?.ApproximateFirstReceiveTimestamp);
    t.not(second.ReceiptHandle, first.ReceiptHandle);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first.ReceiptHandle! }));
    const stillThere = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }));
    t.same(stillThere.Attributes, { ApproximateNumberOfMessagesNotVisible: '1' }, 'a stale receipt deletes nothing, and is not an error');
    const stale = await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: first.ReceiptHandle!, VisibilityTimeout: 0 })).catch((e: unknown) => e);
    t.equal((stale as Error).name, 'MessageNotInflight');
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: second.ReceiptHandle!, VisibilityTimeout: 0 }));
    const third = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }))).Messages![0]!;
    t.equal(third.Attributes?.ApproximateReceiveCount, '3', 'visible at once after VisibilityTimeout 0');
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: third.ReceiptHandle! }));
    const empty = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    t.same(empty.Attributes, { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
  });

  t.test('batches: send, receive up to 10, change visibility, delete, with per-entry failures', async (t) => {
    const url = await createQueue(sqs, 'batches');
    const sent = await sqs.send(new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: [
        ...Array.from({ length: 8 }, (_, i) => ({ Id: `m${i}`, MessageBody: `body ${i}`, MessageAttributes: { i: { DataType: 'Number', StringValue: String(i) } } })),
        { Id: 'bad-chars', MessageBody: 'nul \u0000 inside' },
        { Id: 'bad-delay', MessageBody: 'x', DelaySeconds: 901 },
      ],
    }));
    t.equal(sent.Successful?.length, 8);
    t.same(sent.Failed?.map((f) => [f.Id, f.Code, f.SenderFault]).sort(), [['bad-chars', 'InvalidMessageContents', true], ['bad-delay', 'InvalidParameterValue', true]]);
    t.equal(sent.Successful?.find((s) => s.Id === 'm3')?.MD5OfMessageAttributes, md5OfAttributes({ i: { DataType: 'Number', StringValue: '3' } }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    t.equal(got.Messages?.length, 8);
    const handles = got.Messages!.map((m) => m.ReceiptHandle!);
    const vis = await sqs.send(new ChangeMessageVisibilityBatchCommand({
      QueueUrl: url,
      Entries: [{ Id: 'a', ReceiptHandle: handles[0]!, VisibilityTimeout: 60 }, { Id: 'b', ReceiptHandle: 'not-a-receipt', VisibilityTimeout: 60 }],
    }));
    t.same(vis.Successful?.map((s) => s.Id), ['a']);
    t.same(vis.Failed?.map((f) => [f.Id, f.Code]), [['b', 'ReceiptHandleIsInvalid']]);
    const del = await sqs.send(new DeleteMessageBatchCommand({
      QueueUrl: url,
      Entries: [...handles.map((h, i) => ({ Id: `d${i}`, ReceiptHandle: h })), { Id: 'junk', ReceiptHandle: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA' }],
    }));
    t.equal(del.Successful?.length, 8);
    t.same(del.Failed?.map((f) => [f.Id, f.Code, f.SenderFault]), [['junk', 'ReceiptHandleIsInvalid', true]]);
  });

  t.test('PurgeQueue and DeleteQueue', async (t) => {
    const url = await createQueue(sqs, 'purged');
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: '1', MessageBody: 'a' }, { Id: '2', MessageBody: 'b' }] }));
    await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
    t.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages, undefined);
    await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    const gone = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' })).catch((e: unknown) => e);
    t.ok(gone instanceof QueueDoesNotExist);
    const again = await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch((e: unknown) => e);
    t.ok(again instanceof QueueDoesNotExist);
  });

  t.test('tags and permissions', async (t) => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'tagged', tags: { team: 'core' } }))).QueueUrl!;
    t.same((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags, { team: 'core' });
    await sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { env: 'test', team: 'edge' } }));
    t.same((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags, { team: 'edge', env: 'test' });
    await sqs.send(new UntagQueueCommand({ QueueUrl: url, TagKeys: ['team', 'absent'] }));
    t.same((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags, { env: 'test' });

    await sqs.send(new AddPermissionCommand({ QueueUrl: url, Label: 'AliceSend', AWSAccountIds: ['111122223333'], Actions: ['SendMessage'] }));
    const policy = JSON.parse((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Policy'] }))).Attributes!.Policy!) as { Statement: Array<{ Sid: string; Action: string[] }> };
    t.same(policy.Statement.map((s) => [s.Sid, s.Action]), [['AliceSend', ['SQS:SendMessage']]]);
    const dup = await sqs.send(new AddPermissionCommand({ QueueUrl: url, Label: 'AliceSend', AWSAccountIds: ['1'], Actions: ['*'] })).catch((e: unknown) => e);
    t.equal((dup as Error).name, 'InvalidParameterValue');
    await sqs.send(new RemovePermissionCommand({ QueueUrl: url, Label: 'AliceSend' }));
    t.equal((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Policy'] }))).Attributes, undefined);
    const nolabel = await sqs.send(new RemovePermissionCommand({ QueueUrl: url, Label: 'AliceSend' })).catch((e: unknown) => e);
    t.equal((nolabel as Error).name, 'InvalidParameterValue');

    // A queue deleted and created again starts without the old tags.
    await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    await createQueue(sqs, 'tagged');
    t.equal((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags, undefined);
  });

  t.test('ListDeadLetterSourceQueues of a queue nobody redrives to', async (t) => {
    const url = await createQueue(sqs, 'lonely-dlq');
    const r = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: url }));
    t.same(r.queueUrls, []);
  });

  t.test('metadata and messages survive a restart', async (t) => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'durable', tags: { keep: 'me' } }))).QueueUrl!;
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'kept', MessageAttributes: { n: { DataType: 'Number', StringValue: '1' } } }));
    await broker.restart();
    t.same((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags, { keep: 'me' });
    const m = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames: ['All'] }))).Messages![0]!;
    t.equal(m.Body, 'kept');
    t.same(m.MessageAttributes, { n: { DataType: 'Number', StringValue: '1' } });
  });
});
