/** CreateQueue (SQS API Reference, "CreateQueue"). */
import { isValidQueueName } from '../../../protocol/limits.js';
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { invalidValue, SqsError } from '../errors.js';
import { optStringMap, reqString } from '../input.js';
import { translateAttributes } from '../queue-attributes.js';
import { queueUrl } from '../queue-url.js';
import { checkDeadLetterTarget } from '../redrive.js';
import { checkTagCount, validateTags } from '../tags.js';
import { viewQueue } from '../queues.js';

export const createQueue: ActionHandler = async (input, ctx) => {
  const queue = reqString(input, 'QueueName');
  if (!isValidQueueName(queue)) {
    throw invalidValue('QueueName', 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length.', queue);
  }
  const attrs = optStringMap(input, 'Attributes') ?? {};
  const tags = validateTags(optStringMap(input, 'tags') ?? {}, 'tags');
  checkTagCount(tags);
  if (queue.endsWith('.fifo') && attrs.FifoQueue !== 'true') {
    throw new SqsError('InvalidParameterValue', 'The name of a FIFO queue must end with the .fifo suffix and the queue must be created with the FifoQueue attribute set to true.');
  }
  const { ferry, stored } = translateAttributes(attrs, queue, true, ctx.id);
  if (ferry.deadLetter) await checkDeadLetterTarget(ctx, queue, ferry.deadLetter.queue);
  let created: boolean;
  try {
    const r = await ctx.backend.call<{ created: boolean }>('createQueue', { queue, attributes: ferry });
    created = r.created;
  } catch (err) {
    throw toSqsError(err, { QueueAlreadyExists: 'QueueNameExists' });
  }
  const view = await viewQueue(ctx, queue);
  const meta = ctx.meta.get(queue, view.createdAt);
  if (created) {
    await ctx.meta.put(queue, { ...meta, tags, attributes: stored });
  } else {
    for (const [k, v] of Object.entries(stored)) {
      if ((meta.attributes[k] ?? '') !== v) throw new SqsError('QueueNameExists', `A queue already exists with the same name and a different value for attribute ${k}`);
    }
  }
  return { QueueUrl: queueUrl(ctx.host, ctx.id, queue) };
};
