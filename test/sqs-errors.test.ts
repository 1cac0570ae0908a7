// SQS error codes and HTTP statuses as the AWS SDK surfaces them (its exception classes, the
// query-compatible Code, $metadata.httpStatusCode), and bad input at the HTTP level.
import t from 'tap';
import {
  ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageBatchCommand, DeleteMessageCommand, GetQueueAttributesCommand,
  ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SetQueueAttributesCommand, StartMessageMoveTaskCommand,
  BatchEntryIdsNotDistinct, BatchRequestTooLong, EmptyBatchRequest, InvalidAttributeName, InvalidBatchEntryId,
  InvalidMessageContents, QueueDoesNotExist, ReceiptHandleIsInvalid, TooManyEntriesInBatchRequest, SQSServiceException,
  InvalidAttributeValue,
} from '@aws-sdk/client-sqs';
import { startBroker } from './helpers/broker.js';
import { rawRequest, sqsClient } from './helpers/sqs.js';

interface SdkError extends Error {
  Code?: string;
  $metadata: { httpStatusCode?: number };
}

async function failure(call: () => Promise<unknown>): Promise<SdkError> {
  try {
    await call();
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the call to fail');
}

t.test('SQS errors', async (t) => {
  const broker = await startBroker(t);
  const sqs = sqsClient(t, broker);
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'errors' }))).QueueUrl!;

  t.test('modelled errors: class, query code and status', async (t) => {
    const cases: Array<[string, () => Promise<unknown>, new (...a: never[]) => Error, string, number]> = [
      ['unknown queue', () => sqs.send(new SendMessageCommand({ QueueUrl: `${broker.httpUrl}/000000000000/missing`, MessageBody: 'x' })), QueueDoesNotExist, 'AWS.SimpleQueueService.NonExistentQueue', 400],
      ['another account', () => sqs.send(new SendMessageCommand({ QueueUrl: `${broker.httpUrl}/123456789012/errors`, MessageBody: 'x' })), QueueDoesNotExist, 'AWS.SimpleQueueService.NonExistentQueue', 400],
      ['garbage receipt', () => sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: 'garbage' })), ReceiptHandleIsInvalid, 'ReceiptHandleIsInvalid', 404],
      ['11 entries', () => sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x' })) })), TooManyEntriesInBatchRequest, 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest', 400],
      ['same ids', () => sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: 'a', MessageBody: 'x' }, { Id: 'a', MessageBody: 'y' }] })), BatchEntryIdsNotDistinct, 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct', 400],
      ['no entries', () => sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: [] })), EmptyBatchRequest, 'AWS.SimpleQueueService.EmptyBatchRequest', 400],
      ['bad id', () => sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: 'has space', MessageBody: 'x' }] })), InvalidBatchEntryId, 'AWS.SimpleQueueService.InvalidBatchEntryId', 400],
      ['batch too long', () => sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: Array.from({ length: 5 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x'.repeat(250_000) })) })), BatchRequestTooLong, 'AWS.SimpleQueueService.BatchRequestTooLong', 400],
      ['unknown attribute', () => sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Bogus' as never] })), InvalidAttributeName, 'InvalidAttributeName', 400],
      ['unknown settable attribute', () => sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Bogus: '1' } as Record<string, string> })), InvalidAttributeName, 'InvalidAttributeName', 400],
      ['attribute out of range', () => sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '43201' } })), InvalidAttributeValue, 'InvalidAttributeValue', 400],
      ['own dead-letter queue (a rule across attributes)', () => sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:errors', maxReceiveCount: 3 }) } })), InvalidAttributeValue, 'InvalidAttributeValue', 400],
      ['bad characters', () => sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'bell \u0007' })), InvalidMessageContents, 'InvalidMessageContents', 400],
    ];
    for (const [what, call, cls, code, status] of cases) {
      const err = await failure(call);
      t.ok(err instanceof cls, `${what}: ${cls.name} (got ${err.name}: ${err.message})`);
      t.equal(err.Code, code, `${what}: code`);
      t.equal(err.$metadata.httpStatusCode, status, `${what}: status`);
    }
  });

  t.test('common errors: InvalidParameterValue, MissingParameter', async (t) => {
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ['MaxNumberOfMessages 11', () => sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 11 })), 'InvalidParameterValue'],
      ['WaitTimeSeconds 21', () => sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 21 })), 'InvalidParameterValue'],
      ['DelaySeconds 901', () => sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', DelaySeconds: 901 })), 'InvalidParameterValue'],
      ['empty body', () => sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: '' })), 'MissingParameter'],
      ['body over the queue limit', () => sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x'.repeat(262_145) })), 'InvalidParameterValue'],
      ['bad queue name', () => sqs.send(new CreateQueueCommand({ QueueName: 'has space' })), 'InvalidParameterValue'],
      ['fifo name without FifoQueue', () => sqs.send(new CreateQueueCommand({ QueueName: 'x.fifo' })), 'InvalidParameterValue'],
      ['visibility out of range', () => sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: 'x', VisibilityTimeout: 43_201 })), 'InvalidParameterValue'],
      ['dedup id on a standard queue', () => sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', MessageDeduplicationId: 'd' })), 'InvalidParameterValue'],
      ['RedrivePolicy to a missing queue', () => sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:nope', maxReceiveCount: 3 }) } })), 'InvalidParameterValue'],
      ['not an ARN', () => sqs.send(new StartMessageMoveTaskCommand({ SourceArn: 'nope' })), 'InvalidParameterValue'],
    ];
    for (const [what, call, name] of cases) {
      const err = await failure(call);
      t.ok(err instanceof SQSServiceException, `${what}: a service exception`);
      t.equal(err.name, name, `${what}: ${name} (${err.message})`);
      t.equal(err.$metadata.httpStatusCode, 400, `${what}: 400`);
    }
  });

  t.test('bad input at the HTTP level', async (t) => {
    const json = { 'content-type': 'application/x-amz-json-1.0' };
    const malformed = await rawRequest(broker, { headers: { ...json, 'x-amz-target': 'AmazonSQS.SendMessage' }, body: '{"QueueUrl": ' });
    t.equal(malformed.status, 400);
    t.match(JSON.parse(malformed.text), { __type: 'com.amazon.coral.service#SerializationException' });
    const notObject = await rawRequest(broker, { headers: { ...json, 'x-amz-target': 'AmazonSQS.ListQueues' }, body: '[1,2]' });
    t.equal(notObject.status, 400);
    t.match(JSON.parse(notObject.text), { __type: 'com.amazon.coral.service#SerializationException' });
    const unknown = await rawRequest(broker, { headers: { ...json, 'x-amz-target': 'AmazonSQS.Explode' }, body: '{}' });
    t.equal(unknown.status, 400);
    t.match(JSON.parse(unknown.text), { __type: 'com.amazon.coral.service#UnknownOperationException' });
    const wrongType = await rawRequest(broker, { headers: { ...json, 'x-amz-target': 'AmazonSQS.SendMessage' }, body: JSON.stringify({ QueueUrl: url, MessageBody: 5 }) });
    t.equal(wrongType.status, 400);
    t.match(JSON.parse(wrongType.text), { __type: 'com.amazonaws.sqs#InvalidParameterValue', message: /MessageBody/ });
    t.equal(wrongType.headers.get('x-amzn-query-error'), 'InvalidParameterValue;Sender');
    const missingQueue = await rawRequest(broker, { headers: { ...json, 'x-amz-target': 'AmazonSQS.SendMessage' }, body: JSON.stringify({ MessageBody: 'x' }) });
    t.match(JSON.parse(missingQueue.text), { __type: 'com.amazonaws.sqs#MissingParameter', message: /QueueUrl/ });
    const huge = await rawRequest(broker, { headers: { ...json, 'x-amz-target': 'AmazonSQS.SendMessage' }, body: Buffer.alloc(16 * 1024 * 1024, 0x20) });
    t.equal(huge.status, 413, 'a body past the limit is refused');
    t.match(JSON.parse(huge.text), { __type: 'com.amazonaws.sqs#RequestEntityTooLarge' });
    // The broker still serves after all of that.
    const ok = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'still fine' }));
    t.ok(ok.MessageId);
  });
});

t.test('request bodies: drained and refused over the limit, the connection cut far over it', async (t) => {
  // --max-message-bytes 1024 puts the SQS body limit at 10 × 1024 × 3 + 1 MiB = 1,079,296 bytes.
  const broker = await startBroker(t, { args: ['--max-message-bytes', '1024'] });
  const sqs = sqsClient(t, broker);
  const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues' };
  const over = await rawRequest(broker, { headers, body: Buffer.alloc(2 * 1024 * 1024, 0x20) });
  t.equal(over.status, 413);
  const farOver = await rawRequest(broker, { headers, body: Buffer.alloc(6 * 1024 * 1024, 0x20) }).then(() => 'answered', () => 'cut');
  t.equal(farOver, 'cut', 'past 4× the limit the connection is closed');
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'after' }))).QueueUrl!;
  const big = await failure(() => sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x'.repeat(1025) })));
  t.equal(big.name, 'InvalidParameterValue', "a body over the broker's maxMessageBytes");
  t.ok((await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x'.repeat(1024) }))).MessageId, 'still serving');
});
