// The query protocol with hand-made form requests (as older SDKs and tools send them), checked
// against the XML shapes of the SQS API Reference's sample responses: <ActionResponse> with an
// <ActionResult> and <ResponseMetadata><RequestId>, flattened lists and maps, and ErrorResponse.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { queryRequest, rawRequest } from './helpers/sqs.js';

const NS = 'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"';
const META = '<ResponseMetadata><RequestId>[0-9a-f-]{36}</RequestId></ResponseMetadata>';

/** The text of every <tag> element. */
function all(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>(.*?)</${tag}>`, 'gs'))].map((m) => m[1]!);
}

t.test('query protocol', async (t) => {
  const broker = await startBroker(t);
  const base = `${broker.httpUrl}/000000000000`;

  t.test('CreateQueue, GetQueueUrl, ListQueues (POST and GET)', async (t) => {
    const r = await queryRequest(broker, { Action: 'CreateQueue', Version: '2012-11-05', QueueName: 'q1', 'Attribute.1.Name': 'VisibilityTimeout', 'Attribute.1.Value': '40', 'Tag.1.Key': 'team', 'Tag.1.Value': 'x' });
    t.equal(r.status, 200);
    t.equal(r.headers.get('content-type'), 'text/xml');
    t.match(r.text, new RegExp(`^<\\?xml version="1.0"\\?><CreateQueueResponse ${NS}><CreateQueueResult><QueueUrl>${base}/q1</QueueUrl></CreateQueueResult>${META}</CreateQueueResponse>$`));
    const url = await queryRequest(broker, { Action: 'GetQueueUrl', QueueName: 'q1' });
    t.match(url.text, new RegExp(`<GetQueueUrlResponse ${NS}><GetQueueUrlResult><QueueUrl>${base}/q1</QueueUrl></GetQueueUrlResult>${META}</GetQueueUrlResponse>$`));
    await queryRequest(broker, { Action: 'CreateQueue', QueueName: 'q2' });
    const list = await rawRequest(broker, { method: 'GET', path: '/?Action=ListQueues&QueueNamePrefix=q' });
    t.equal(list.status, 200);
    t.match(list.text, new RegExp(`<ListQueuesResponse ${NS}><ListQueuesResult><QueueUrl>${base}/q1</QueueUrl><QueueUrl>${base}/q2</QueueUrl></ListQueuesResult>${META}</ListQueuesResponse>$`));
    const attrs = await queryRequest(broker, { Action: 'GetQueueAttributes', QueueUrl: `${base}/q1`, 'AttributeName.1': 'VisibilityTimeout', 'AttributeName.2': 'QueueArn' });
    t.match(attrs.text, new RegExp(`<GetQueueAttributesResult><Attribute><Name>VisibilityTimeout</Name><Value>40</Value></Attribute><Attribute><Name>QueueArn</Name><Value>arn:aws:sqs:us-east-1:000000000000:q1</Value></Attribute></GetQueueAttributesResult>`));
    const tags = await queryRequest(broker, { Action: 'ListQueueTags', QueueUrl: `${base}/q1` });
    t.match(tags.text, '<ListQueueTagsResult><Tag><Key>team</Key><Value>x</Value></Tag></ListQueueTagsResult>');
  });

  t.test('SendMessage and ReceiveMessage with attributes, addressed by queue URL path', async (t) => {
    // The API Reference's SendMessage sample: body "This is a test message" and two String attributes.
    const sent = await queryRequest(broker, {
      Action: 'SendMessage', MessageBody: 'This is a test message',
      'MessageAttribute.1.Name': 'test_attribute_name_1', 'MessageAttribute.1.Value.StringValue': 'test_attribute_value_1', 'MessageAttribute.1.Value.DataType': 'String',
      'MessageAttribute.2.Name': 'test_attribute_name_2', 'MessageAttribute.2.Value.StringValue': 'test_attribute_value_2', 'MessageAttribute.2.Value.DataType': 'String',
    }, '/000000000000/q2');
    t.equal(sent.status, 200);
    t.match(sent.text, new RegExp(`<SendMessageResponse ${NS}><SendMessageResult><MessageId>[0-9a-f-]{36}</MessageId><MD5OfMessageBody>fafb00f5732ab283681e124bf8747ed1</MD5OfMessageBody><MD5OfMessageAttributes>d53f3b558fe951154770f25cb63dbba9</MD5OfMessageAttributes></SendMessageResult>${META}</SendMessageResponse>$`));
    const got = await queryRequest(broker, { Action: 'ReceiveMessage', 'AttributeName.1': 'All', 'MessageAttributeName.1': 'All', VisibilityTimeout: '30' }, '/000000000000/q2');
    t.equal(got.status, 200);
    t.match(got.text, new RegExp(`^<\\?xml version="1.0"\\?><ReceiveMessageResponse ${NS}><ReceiveMessageResult><Message><MessageId>`));
    t.same(all(got.text, 'Body'), ['This is a test message']);
    t.same(all(got.text, 'MD5OfBody'), ['fafb00f5732ab283681e124bf8747ed1']);
    t.same(all(got.text, 'MD5OfMessageAttributes'), ['d53f3b558fe951154770f25cb63dbba9']);
    t.match(got.text, '<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>');
    t.match(got.text, '<MessageAttribute><Name>test_attribute_name_1</Name><Value><DataType>String</DataType><StringValue>test_attribute_value_1</StringValue></Value></MessageAttribute>');
    const [receipt] = all(got.text, 'ReceiptHandle');
    const del = await queryRequest(broker, { Action: 'DeleteMessage', QueueUrl: `${base}/q2`, ReceiptHandle: receipt! });
    t.match(del.text, new RegExp(`^<\\?xml version="1.0"\\?><DeleteMessageResponse ${NS}>${META}</DeleteMessageResponse>$`));
    const empty = await queryRequest(broker, { Action: 'ReceiveMessage', QueueUrl: `${base}/q2` });
    t.match(empty.text, new RegExp(`<ReceiveMessageResponse ${NS}><ReceiveMessageResult></ReceiveMessageResult>${META}`));
  });

  t.test('batches report successes and failures', async (t) => {
    const r = await queryRequest(broker, {
      Action: 'SendMessageBatch', QueueUrl: `${base}/q1`,
      'SendMessageBatchRequestEntry.1.Id': 'ok', 'SendMessageBatchRequestEntry.1.MessageBody': 'fine',
      'SendMessageBatchRequestEntry.2.Id': 'late', 'SendMessageBatchRequestEntry.2.MessageBody': 'x', 'SendMessageBatchRequestEntry.2.DelaySeconds': '1000',
    });
    t.equal(r.status, 200);
    t.match(r.text, /<SendMessageBatchResult><SendMessageBatchResultEntry><Id>ok<\/Id><MessageId>[0-9a-f-]{36}<\/MessageId><MD5OfMessageBody>[0-9a-f]{32}<\/MD5OfMessageBody><\/SendMessageBatchResultEntry><BatchResultErrorEntry><Id>late<\/Id><SenderFault>true<\/SenderFault><Code>InvalidParameterValue<\/Code><Message>[^<]+<\/Message><\/BatchResultErrorEntry><\/SendMessageBatchResult>/);
    const d = await queryRequest(broker, { Action: 'DeleteMessageBatch', QueueUrl: `${base}/q1`, 'DeleteMessageBatchRequestEntry.1.Id': 'x', 'DeleteMessageBatchRequestEntry.1.ReceiptHandle': 'bogus' });
    t.match(d.text, '<DeleteMessageBatchResult><BatchResultErrorEntry><Id>x</Id><SenderFault>true</SenderFault><Code>ReceiptHandleIsInvalid</Code>');
  });

  t.test('errors as ErrorResponse', async (t) => {
    const missing = await queryRequest(broker, { Action: 'GetQueueAttributes', QueueUrl: `${base}/nope`, 'AttributeName.1': 'All' });
    t.equal(missing.status, 400);
    t.match(missing.text, new RegExp(`^<\\?xml version="1.0"\\?><ErrorResponse ${NS}><Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist.</Message><Detail/></Error><RequestId>[0-9a-f-]{36}</RequestId></ErrorResponse>$`));
    const unknown = await queryRequest(broker, { Action: 'Explode' });
    t.equal(unknown.status, 400);
    t.same(all(unknown.text, 'Code'), ['InvalidAction']);
    const noAction = await queryRequest(broker, { QueueName: 'x' });
    t.same(all(noAction.text, 'Code'), ['MissingAction']);
    const exists = await queryRequest(broker, { Action: 'CreateQueue', QueueName: 'q1', 'Attribute.1.Name': 'VisibilityTimeout', 'Attribute.1.Value': '5' });
    t.same(all(exists.text, 'Code'), ['QueueAlreadyExists']);
    const tooMany = await queryRequest(broker, Object.fromEntries([['Action', 'DeleteMessageBatch'], ['QueueUrl', `${base}/q1`],
      ...Array.from({ length: 11 }, (_, i) => [[`DeleteMessageBatchRequestEntry.${i + 1}.Id`, `e${i}`], [`DeleteMessageBatchRequestEntry.${i + 1}.ReceiptHandle`, 'r']]).flat()]));
    t.same(all(tooMany.text, 'Code'), ['AWS.SimpleQueueService.TooManyEntriesInBatchRequest']);
    const badNumber = await queryRequest(broker, { Action: 'ReceiveMessage', QueueUrl: `${base}/q1`, MaxNumberOfMessages: 'ten' });
    t.same(all(badNumber.text, 'Code'), ['InvalidParameterValue']);
    const badForm = await queryRequest(broker, { Action: 'GetQueueAttributes', QueueUrl: `${base}/q1`, 'AttributeName.one': 'All' });
    t.same(all(badForm.text, 'Code'), ['InvalidQueryParameter']);
    const badEncoding = await rawRequest(broker, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=ListQueues&QueueNamePrefix=%E0%A4%A' });
    t.equal(badEncoding.status, 404);
    t.same(all(badEncoding.text, 'Code'), ['MalformedQueryString']);
  });
});
