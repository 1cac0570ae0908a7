/**
 * StartMessageMoveTask (SQS API Reference, "StartMessageMoveTask"): moves the messages of a
 * dead-letter queue (SourceArn) to DestinationArn, or back to their source queues when it is not
 * given, at MaxNumberOfMessagesPerSecond (1–500) when given. Ferry op: startRedrive.
 */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { optInt, optString, reqString } from '../input.js';
import { encodeTaskHandle, type BrokerRedriveTask } from '../move-tasks.js';
import { queueFromArn } from '../queue-url.js';

export const startMessageMoveTask: ActionHandler = async (input, ctx) => {
  const source = queueFromArn(reqString(input, 'SourceArn'), 'SourceArn', ctx.id);
  const destinationArn = optString(input, 'DestinationArn');
  const rate = optInt(input, 'MaxNumberOfMessagesPerSecond', 1, 500);
  const args: Record<string, unknown> = { queue: source };
  if (destinationArn !== undefined) args.target = queueFromArn(destinationArn, 'DestinationArn', ctx.id);
  if (rate !== undefined) args.ratePerSec = rate;
  try {
    const task = await ctx.backend.call<BrokerRedriveTask>('startRedrive', args);
    return { TaskHandle: encodeTaskHandle(source, task.task) };
  } catch (err) {
    throw toSqsError(err, { QueueDoesNotExist: 'ResourceNotFoundException' });
  }
};
