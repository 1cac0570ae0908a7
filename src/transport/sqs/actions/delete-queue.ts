/** DeleteQueue (SQS API Reference, "DeleteQueue"). Amazon deletes within 60 s; Ferry at once. */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { queueOf } from '../queues.js';

export const deleteQueue: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  try {
    await ctx.backend.call('deleteQueue', { queue });
  } catch (err) {
    throw toSqsError(err);
  }
  await ctx.meta.delete(queue);
  return undefined;
};
