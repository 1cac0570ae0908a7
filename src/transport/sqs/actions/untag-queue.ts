/** UntagQueue (SQS API Reference, "UntagQueue"). Removing a key that is not there is not an error. */
import type { ActionHandler } from '../action.js';
import { missingParameter } from '../errors.js';
import { optStringList } from '../input.js';
import { queueMetadata, queueOf } from '../queues.js';

export const untagQueue: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const keys = optStringList(input, 'TagKeys');
  if (keys === undefined || keys.length === 0) throw missingParameter('TagKeys');
  const { meta } = await queueMetadata(ctx, queue);
  const tags = { ...meta.tags };
  for (const k of keys) delete tags[k];
  await ctx.meta.put(queue, { ...meta, tags });
  return undefined;
};
