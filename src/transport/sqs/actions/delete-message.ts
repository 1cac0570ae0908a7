/**
 * DeleteMessage (SQS API Reference, "DeleteMessage"). A receipt handle of an earlier delivery
 * succeeds without deleting, as Amazon documents ("the request succeeds, but the message will not
 * be deleted"); a handle that is not one of this queue's is ReceiptHandleIsInvalid.
 */
import type { ActionHandler } from '../action.js';
import { BrokerError, toSqsError } from '../backend.js';
import { reqString } from '../input.js';
import { queueOf } from '../queues.js';

export const deleteMessage: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const receipt = reqString(input, 'ReceiptHandle');
  try {
    await ctx.backend.call('delete', { queue, receipt });
  } catch (err) {
    if (err instanceof BrokerError && err.code === 'ReceiptHandleExpired') return undefined;
    throw toSqsError(err);
  }
  return undefined;
};
