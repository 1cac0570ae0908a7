/** Dead-letter checks shared by CreateQueue and SetQueueAttributes (SQS Developer Guide, "Dead-letter queues"). */
import type { ActionContext } from './action.js';
import { BrokerError } from './backend.js';
import { SqsError } from './errors.js';

/** The dead-letter target must exist and be of the same type (FIFO or standard) as its source. */
export async function checkDeadLetterTarget(ctx: ActionContext, source: string, target: string): Promise<void> {
  try {
    await ctx.backend.call('getQueueAttributes', { queue: target });
  } catch (err) {
    if (err instanceof BrokerError && err.code === 'QueueDoesNotExist') {
      throw new SqsError('InvalidParameterValue', 'Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.');
    }
    throw err;
  }
  if (source.endsWith('.fifo') !== target.endsWith('.fifo')) {
    throw new SqsError('InvalidParameterValue', 'Value for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be of the same type (FIFO or standard) as the source queue.');
  }
}
