/** SetQueueAttributes (SQS API Reference, "SetQueueAttributes"). Takes effect at once (Amazon: up to 60 s). */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { missingParameter } from '../errors.js';
import { optStringMap } from '../input.js';
import { translateAttributes } from '../queue-attributes.js';
import { checkDeadLetterTarget } from '../redrive.js';
import { queueMetadata, queueOf } from '../queues.js';

export const setQueueAttributes: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const attrs = optStringMap(input, 'Attributes');
  if (attrs === undefined) throw missingParameter('Attributes');
  const { ferry, stored } = translateAttributes(attrs, queue, false, ctx.id);
  const { meta } = await queueMetadata(ctx, queue);
  if (ferry.deadLetter) await checkDeadLetterTarget(ctx, queue, ferry.deadLetter.queue);
  if (Object.keys(ferry).length > 0) {
    try {
      await ctx.backend.call('setQueueAttributes', { queue, attributes: ferry });
    } catch (err) {
      throw toSqsError(err);
    }
  }
  await ctx.meta.put(queue, { ...meta, lastModified: Date.now(), attributes: { ...meta.attributes, ...stored } });
  return undefined;
};
