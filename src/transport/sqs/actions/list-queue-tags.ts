/** ListQueueTags (SQS API Reference, "ListQueueTags"). */
import type { ActionHandler } from '../action.js';
import { queueMetadata, queueOf } from '../queues.js';

export const listQueueTags: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const { meta } = await queueMetadata(ctx, queue);
  return Object.keys(meta.tags).length === 0 ? {} : { Tags: meta.tags };
};
