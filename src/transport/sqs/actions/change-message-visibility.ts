/**
 * ChangeMessageVisibility (SQS API Reference, "ChangeMessageVisibility"): VisibilityTimeout 0–43200
 * s from now. A message whose lease is over (or that was delivered again) is MessageNotInflight.
 */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { reqInt, reqString } from '../input.js';
import { queueOf } from '../queues.js';

export const changeMessageVisibility: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const receipt = reqString(input, 'ReceiptHandle');
  const visibility = reqInt(input, 'VisibilityTimeout', 0, 43_200);
  try {
    await ctx.backend.call('changeVisibility', { queue, receipt, visibilityMs: visibility * 1000 });
  } catch (err) {
    throw toSqsError(err, { ReceiptHandleExpired: 'MessageNotInflight' });
  }
  return undefined;
};
