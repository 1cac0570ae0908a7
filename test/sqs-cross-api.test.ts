// One queue is one queue: messages sent over SQS are received over the WebSocket protocol and the
// other way round, with attributes readable on both sides and receipts interchangeable.
import t from 'tap';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ListQueuesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { startBroker } from './helpers/broker.js';
import { sqsClient } from './helpers/sqs.js';
import { connect } from '../src/client/index.js';
import { md5OfAttributes } from '../src/transport/sqs/md5.js';

t.test('SQS and WebSocket share queues', async (t) => {
  const broker = await startBroker(t);
  const sqs = sqsClient(t, broker);
  const ws = await connect(broker.url, { reconnect: false });
  t.teardown(() => ws.close());

  t.test('created over the WebSocket, used over SQS', async (t) => {
    await ws.createQueue('from-ws', { visibilityMs: 5000 });
    const list = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'from-ws' }));
    t.same(list.QueueUrls, [`${broker.httpUrl}/000000000000/from-ws`]);
    const url = list.QueueUrls![0]!;
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout'] }));
    t.same(attrs.Attributes, { VisibilityTimeout: '5' }, 'milliseconds shown as seconds');
    await ws.queue('from-ws').send('hello from ws', { attributes: { color: 'blue' } });
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    const m = got.Messages![0]!;
    t.equal(m.Body, 'hello from ws');
    t.same(m.MessageAttributes, { color: { DataType: 'String', StringValue: 'blue' } }, 'a Ferry attribute is an SQS String attribute');
    t.equal(m.MD5OfMessageAttributes, md5OfAttributes({ color: { DataType: 'String', StringValue: 'blue' } }));
    t.same(m.Attributes, { ApproximateReceiveCount: '1' });
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
    t.same(await ws.queue('from-ws').receive({ max: 10 }), [], 'deleted for both');
  });

  t.test('created over SQS, used over the WebSocket', async (t) => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'from-sqs', Attributes: { VisibilityTimeout: '7' } }))).QueueUrl!;
    const info = await ws.queue('from-sqs').attributes();
    t.equal(info.attributes.visibilityMs, 7000);
    const sent = await sqs.send(new SendMessageCommand({
      QueueUrl: url, MessageBody: 'hello from sqs',
      MessageAttributes: { plain: { DataType: 'String', StringValue: 'p' }, count: { DataType: 'Number', StringValue: '3' }, raw: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2]) } },
    }));
    const [m] = await ws.queue('from-sqs').receive({ max: 1 });
    t.ok(m);
    t.equal(m!.messageId, sent.MessageId);
    t.equal(Buffer.from(m!.body).toString(), 'hello from sqs');
    t.equal(m!.attributes?.plain, 'p');
    t.equal(m!.attributes?.count, '3');
    t.equal(m!.attributes?.raw, Buffer.from([1, 2]).toString('base64'));
    t.same(JSON.parse(m!.attributes!['sqs:types']!), { count: 'Number', raw: 'Binary' }, 'typed attributes keep their types under sqs:types');
    // A receipt from a WebSocket delivery works with SQS DeleteMessage.
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m!.receipt }));
    const counts = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    t.same(counts.Attributes, { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
  });

  t.test('an SQS long poll is woken by a WebSocket send', async (t) => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'wake' }))).QueueUrl!;
    const poll = sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 }));
    await new Promise((r) => setTimeout(r, 200));
    await ws.queue('wake').send('ping');
    t.equal((await poll).Messages?.[0]?.Body, 'ping');
  });
});
