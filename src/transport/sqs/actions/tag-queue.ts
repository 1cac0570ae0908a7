/** TagQueue (SQS API Reference, "TagQueue"): tags live in the SQS metadata store. */
import type { ActionHandler } from '../action.js';
import { missingParameter } from '../errors.js';
import { optStringMap } from '../input.js';
import { queueMetadata, queueOf } from '../queues.js';
import { checkTagCount, validateTags } from '../tags.js';

export const tagQueue: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const tags = optStringMap(input, 'Tags');
  if (tags === undefined || Object.keys(tags).length === 0) throw missingParameter('Tags');
  validateTags(tags);
  const { meta } = await queueMetadata(ctx, queue);
  const merged = { ...meta.tags, ...tags };
  checkTagCount(merged);
  await ctx.meta.put(queue, { ...meta, tags: merged });
  return undefined;
};
