// Units of the SQS layer that need no broker: the attribute digests against published values, the
// typed-attribute encoding, the query protocol's form and XML, and SigV4 against the SDK's signer.
import t from 'tap';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { md5OfAttributes, md5Hex } from '../src/transport/sqs/md5.js';
import { fromFerryAttributes, parseMessageAttributes, selectAttributes, toFerryAttributes } from '../src/transport/sqs/message-attributes.js';
import { parseQueryInput, queryError, queryReply } from '../src/transport/sqs/query-protocol.js';
import { parseCredentials, verifySigV4 } from '../src/transport/sqs/sigv4.js';
import { SqsError } from '../src/transport/sqs/errors.js';
import type { HttpRequest } from '../src/transport/http-request.js';

t.test('MD5OfMessageAttributes matches published values', async (t) => {
  // Values from other SQS implementations' tests, each checked there against Amazon's SDKs.
  t.equal(md5OfAttributes({ SellerName: { DataType: 'String', StringValue: 'Example Store' } }), 'cd28f3b68aeee4b2eac9c66f2f694b58');
  t.equal(md5OfAttributes({
    ordinal: { DataType: 'Number', StringValue: '1' },
    category: { DataType: 'String', StringValue: 'test' },
  }), 'd21ae90c49061e927f57df5f5d72be1f');
  t.equal(md5OfAttributes({
    test_attribute_name_2: { DataType: 'String', StringValue: 'test_attribute_value_2' },
    test_attribute_name_1: { DataType: 'String', StringValue: 'test_attribute_value_1' },
  }), 'd53f3b558fe951154770f25cb63dbba9', 'sorted by name');
  t.equal(md5OfAttributes({ test_attribute_name: { DataType: 'Binary', BinaryValue: Buffer.from('test_attribute_value').toString('base64') } }),
    '23f6bd27ea87aab7dfeadcc9aebee495', 'binary uses transport type 2 and the raw bytes');
  t.equal(md5OfAttributes({}), undefined);
  t.equal(md5Hex('hello'), '5d41402abc4b2a76b9719d911017c592');
});

t.test('typed attributes survive the trip through Ferry string attributes', async (t) => {
  const { attributes, bytes } = parseMessageAttributes({
    s: { DataType: 'String', StringValue: 'plain' },
    n: { DataType: 'Number.int', StringValue: '-12.5e3' },
    b: { DataType: 'Binary.gif', BinaryValue: Buffer.from([0, 1, 2, 255]).toString('base64') },
    c: { DataType: 'String.custom', StringValue: 'x' },
  });
  t.ok(bytes > 0);
  const ferry = toFerryAttributes(attributes, 'Root=1-abc')!;
  t.equal(ferry.s, 'plain', 'a String is stored as itself');
  t.same(JSON.parse(ferry['sqs:types']!), { n: 'Number.int', b: 'Binary.gif', c: 'String.custom' });
  t.equal(ferry['sqs:AWSTraceHeader'], 'Root=1-abc');
  const back = fromFerryAttributes(ferry);
  t.same(back.attributes, attributes);
  t.equal(back.traceHeader, 'Root=1-abc');
  t.same(fromFerryAttributes({ plain: 'v' }).attributes, { plain: { DataType: 'String', StringValue: 'v' } }, 'a WebSocket attribute reads as a String');
  t.same(Object.keys(selectAttributes(back.attributes, ['s', 'n'])!), ['s', 'n']);
  t.same(Object.keys(selectAttributes(back.attributes, ['All'])!).sort(), ['b', 'c', 'n', 's']);
  t.equal(selectAttributes(back.attributes, undefined), undefined);
});

t.test('bad message attributes name the problem', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ 'AWS.x': { DataType: 'String', StringValue: 'v' } }, /name 'AWS.x' is invalid/],
    [{ x: { DataType: 'Float', StringValue: '1' } }, /invalid message attribute type/],
    [{ x: { DataType: 'Number', StringValue: 'abc' } }, /cast message attribute 'x' value to number/],
    [{ x: { DataType: 'String' } }, /non-empty message attribute value/],
    [{ x: { DataType: 'Binary', StringValue: 'v' } }, /must use field 'Binary'/],
    [Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: 'String', StringValue: 'v' }])), /exceeds the allowed maximum \[10\]/],
  ];
  for (const [attrs, re] of cases) {
    t.throws(() => parseMessageAttributes(attrs), { name: 'SqsError', code: 'InvalidParameterValue', message: re });
  }
  t.throws(() => parseMessageAttributes({ x: { DataType: 'String', StringValue: 'a\u0000b' } }), { code: 'InvalidMessageContents' });
});

t.test('query protocol: form parameters become the JSON input shape', async (t) => {
  const p = (o: Record<string, string>): Array<[string, string]> => Object.entries(o);
  t.same(parseQueryInput(p({
    Action: 'SendMessageBatch', Version: '2012-11-05', QueueUrl: 'http://h/000000000000/q',
    'SendMessageBatchRequestEntry.2.Id': 'b', 'SendMessageBatchRequestEntry.2.MessageBody': 'two',
    'SendMessageBatchRequestEntry.1.Id': 'a', 'SendMessageBatchRequestEntry.1.MessageBody': 'one',
    'SendMessageBatchRequestEntry.1.MessageAttribute.1.Name': 'k',
    'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType': 'String',
    'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue': 'v',
  })), {
    action: 'SendMessageBatch',
    input: {
      QueueUrl: 'http://h/000000000000/q',
      Entries: [
        { Id: 'a', MessageBody: 'one', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } },
        { Id: 'b', MessageBody: 'two' },
      ],
    },
  });
  t.same(parseQueryInput(p({ Action: 'CreateQueue', QueueName: 'q', 'Attribute.1.Name': 'DelaySeconds', 'Attribute.1.Value': '5', 'Tag.1.Key': 'team', 'Tag.1.Value': 'a' })).input,
    { QueueName: 'q', Attributes: { DelaySeconds: '5' }, tags: { team: 'a' } });
  t.same(parseQueryInput(p({ Action: 'ReceiveMessage', 'AttributeName.1': 'All', 'MessageAttributeName.1': 'x', MaxNumberOfMessages: '3' })).input,
    { AttributeNames: ['All'], MessageAttributeNames: ['x'], MaxNumberOfMessages: '3' });
  t.throws(() => parseQueryInput(p({ QueueName: 'q' })), { code: 'MissingAction' });
  t.throws(() => parseQueryInput(p({ Action: 'X', 'AttributeName.x': 'All' })), { code: 'InvalidQueryParameter' });
});

t.test('query protocol: XML as the API Reference samples show it', async (t) => {
  const r = queryReply('ReceiveMessage', {
    Messages: [{
      MessageId: 'm1', ReceiptHandle: 'r1', MD5OfBody: 'x', Body: 'a<b>&\r', Attributes: { SentTimestamp: '1' },
      MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
    }],
  }, 'req-1');
  t.equal(r.status, 200);
  t.equal(r.body, '<?xml version="1.0"?><ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ReceiveMessageResult>'
    + '<Message><MessageId>m1</MessageId><ReceiptHandle>r1</ReceiptHandle><MD5OfBody>x</MD5OfBody><Body>a&lt;b&gt;&amp;&#xD;</Body>'
    + '<Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>'
    + '<MessageAttribute><Name>k</Name><Value><DataType>String</DataType><StringValue>v</StringValue></Value></MessageAttribute></Message>'
    + '</ReceiveMessageResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></ReceiveMessageResponse>');
  t.equal(queryReply('DeleteQueue', undefined, 'r').body,
    '<?xml version="1.0"?><DeleteQueueResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteQueueResponse>');
  t.match(queryReply('SendMessageBatch', { Successful: [{ Id: 'a' }], Failed: [{ Id: 'b', SenderFault: true, Code: 'X', Message: 'm' }] }, 'r').body,
    '<SendMessageBatchResult><SendMessageBatchResultEntry><Id>a</Id></SendMessageBatchResultEntry><BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>X</Code><Message>m</Message></BatchResultErrorEntry></SendMessageBatchResult>');
  const e = queryError(new SqsError('QueueDoesNotExist', 'The specified queue does not exist.'), 'r');
  t.equal(e.status, 400);
  t.equal(e.body, '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type>'
    + '<Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist.</Message><Detail/></Error><RequestId>r</RequestId></ErrorResponse>');
});

t.test('SigV4: a request signed by the SDK signer verifies; any change does not', async (t) => {
  const creds = parseCredentials('AKID1:secret1,AKID2:secret2');
  const signer = new SignatureV4({ credentials: { accessKeyId: 'AKID2', secretAccessKey: 'secret2' }, region: 'eu-west-1', service: 'sqs', sha256: Sha256 });
  const body = '{"QueueName":"q"}';
  const signed = await signer.sign({
    method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port: 7700, path: '/', query: {},
    headers: { host: '127.0.0.1:7700', 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.CreateQueue' }, body,
  });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = String(v);
  const req: HttpRequest = { method: 'POST', path: '/', query: '', headers, body: Buffer.from(body) };
  t.equal(verifySigV4(req, creds), 'AKID2');
  t.throws(() => verifySigV4({ ...req, body: Buffer.from('{"QueueName":"other"}') }, creds), { code: 'SignatureDoesNotMatch' });
  t.throws(() => verifySigV4(req, parseCredentials('AKID2:wrong')), { code: 'SignatureDoesNotMatch' });
  t.throws(() => verifySigV4(req, parseCredentials('AKID9:x')), { code: 'InvalidClientTokenId' });
  t.throws(() => verifySigV4({ ...req, headers: { host: headers.host! } }, creds), { code: 'MissingAuthenticationToken' });
  t.throws(() => verifySigV4(req, creds, Date.now() + 20 * 60 * 1000), { code: 'RequestExpired' });
  t.throws(() => verifySigV4({ ...req, headers: { ...headers, authorization: 'AWS4-HMAC-SHA256 Credential=x' } }, creds), { code: 'IncompleteSignature' });
  // A presigned GET (query protocol): the signature travels in X-Amz-* query parameters.
  const presigned = await signer.presign({
    method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 7700, path: '/000000000000/q', query: { Action: 'ReceiveMessage', 'AttributeName.1': 'All' },
    headers: { host: '127.0.0.1:7700' },
  });
  const query = Object.entries(presigned.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  const get: HttpRequest = { method: 'GET', path: '/000000000000/q', query, headers: { host: '127.0.0.1:7700' }, body: Buffer.alloc(0) };
  t.equal(verifySigV4(get, creds), 'AKID2', 'presigned query parameters verify');
  t.throws(() => verifySigV4({ ...get, query: query.replace('ReceiveMessage', 'DeleteQueue') }, creds), { code: 'SignatureDoesNotMatch' });
  t.throws(() => parseCredentials('nocolon'), /KEY:SECRET/);
  t.throws(() => parseCredentials(''), /no credentials/);
});
