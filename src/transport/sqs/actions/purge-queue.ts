/** PurgeQueue (SQS API Reference, "PurgeQueue"). Ferry purges at once and allows back-to-back purges. */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { queueOf } from '../queues.js';

export const purgeQueue: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  try {
    await ctx.backend.call('purgeQueue', { queue });
  } catch (err) {
    throw toSqsError(err);
  }
  return undefined;
};
