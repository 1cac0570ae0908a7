// Signed SQS: with credentials configured every request must carry a valid SigV4 signature of one
// of them; the setting is validated at start-up.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { CreateQueueCommand, ListQueuesCommand, SendMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { FERRY_MAIN, startBroker } from './helpers/broker.js';
import { queryRequest, rawRequest, sqsClient } from './helpers/sqs.js';
import { ConfigError, resolveBrokerConfig } from '../src/supervisor/config.js';

interface SdkError extends Error {
  $metadata: { httpStatusCode?: number };
}

t.test('a broker with SQS credentials checks signatures', async (t) => {
  const broker = await startBroker(t, { args: ['--sqs-credentials', 'AKIDONE:secret-one,AKIDTWO:secret-two'] });
  const good = sqsClient(t, broker, { accessKeyId: 'AKIDTWO', secretAccessKey: 'secret-two' });
  const url = (await good.send(new CreateQueueCommand({ QueueName: 'signed' }))).QueueUrl!;
  await good.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'signed body' }));
  t.equal((await good.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages?.[0]?.Body, 'signed body');

  const wrongSecret = sqsClient(t, broker, { accessKeyId: 'AKIDONE', secretAccessKey: 'not-it' });
  const e1 = await wrongSecret.send(new ListQueuesCommand({})).catch((e: unknown) => e as SdkError);
  t.equal(e1.name, 'SignatureDoesNotMatch');
  t.equal(e1.$metadata.httpStatusCode, 403);
  const unknownKey = sqsClient(t, broker, { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' });
  const e2 = await unknownKey.send(new ListQueuesCommand({})).catch((e: unknown) => e as SdkError);
  t.equal(e2.name, 'InvalidClientTokenId');
  t.equal(e2.$metadata.httpStatusCode, 403);
  const unsigned = await rawRequest(broker, { headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues' }, body: '{}' });
  t.equal(unsigned.status, 403);
  t.match(JSON.parse(unsigned.text), { __type: 'com.amazonaws.sqs#MissingAuthenticationToken' });
  const unsignedQuery = await queryRequest(broker, { Action: 'ListQueues' });
  t.equal(unsignedQuery.status, 403);
  t.match(unsignedQuery.text, '<Code>MissingAuthenticationToken</Code>');
});

t.test('FERRY_SQS_CREDENTIALS works like the flag', async (t) => {
  const broker = await startBroker(t, { env: { FERRY_SQS_CREDENTIALS: 'ENVKEY:env-secret' } });
  const ok = sqsClient(t, broker, { accessKeyId: 'ENVKEY', secretAccessKey: 'env-secret' });
  t.ok((await ok.send(new ListQueuesCommand({}))).$metadata.httpStatusCode === 200);
  const bad = sqsClient(t, broker, { accessKeyId: 'ENVKEY', secretAccessKey: 'nope' });
  t.equal((await bad.send(new ListQueuesCommand({})).catch((e: unknown) => e as SdkError)).name, 'SignatureDoesNotMatch');
});

t.test('bad credential settings are refused', async (t) => {
  t.throws(() => resolveBrokerConfig({ sqsCredentials: 'no-colon' }), ConfigError);
  t.throws(() => resolveBrokerConfig({ sqsCredentials: 'KEY:' }), { setting: 'sqsCredentials' });
  t.throws(() => resolveBrokerConfig({ sqsCredentials: 'bad key!:s' }), { setting: 'sqsCredentials' });
  t.same(resolveBrokerConfig({ sqsCredentials: 'A1:s1, B2:s:2' }).sqsCredentials, [{ accessKeyId: 'A1', secretAccessKey: 's1' }, { accessKeyId: 'B2', secretAccessKey: 's:2' }]);
  t.same(resolveBrokerConfig({}).sqsCredentials, [], 'unsigned by default');
  const run = spawnSync(process.execPath, [FERRY_MAIN, 'server', '--port', '0', '--sqs-credentials', 'nonsense'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(run.status, 2, 'a usage error');
  t.match(run.stderr, /sqsCredentials: .*KEY:SECRET/);
});
