/** GetQueueUrl (SQS API Reference, "GetQueueUrl"). */
import type { ActionHandler } from '../action.js';
import { SqsError } from '../errors.js';
import { optString, reqString } from '../input.js';
import { queueUrl } from '../queue-url.js';
import { viewQueue } from '../queues.js';
import { isValidQueueName } from '../../../protocol/limits.js';

export const getQueueUrl: ActionHandler = async (input, ctx) => {
  const queue = reqString(input, 'QueueName');
  const owner = optString(input, 'QueueOwnerAWSAccountId');
  if (!isValidQueueName(queue) || (owner !== undefined && owner !== ctx.id.accountId)) {
    throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
  }
  await viewQueue(ctx, queue);
  return { QueueUrl: queueUrl(ctx.host, ctx.id, queue) };
};
