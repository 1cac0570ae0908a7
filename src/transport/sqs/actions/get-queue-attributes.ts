/** GetQueueAttributes (SQS API Reference, "GetQueueAttributes"). */
import type { ActionHandler } from '../action.js';
import { optStringList } from '../input.js';
import { selectQueueAttributes, sqsAttributes } from '../queue-attributes.js';
import { queueMetadata, queueOf } from '../queues.js';

export const getQueueAttributes: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const names = optStringList(input, 'AttributeNames');
  const { view, meta } = await queueMetadata(ctx, queue);
  const selected = selectQueueAttributes(sqsAttributes(view, meta, ctx.id), names);
  return Object.keys(selected).length === 0 ? {} : { Attributes: selected };
};
