/**
 * StartMessageMoveTask (SQS API Reference, "StartMessageMoveTask"): moves the messages of a
 * dead-letter queue (SourceArn) to DestinationArn, or back to their source queues when it is not
 * given, at MaxNumberOfMessagesPerSecond (1–500) when given. Ferry op: startRedrive.
 */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { optInt, optString, reqString } from '../input.js';
import { encodeTaskHandle } from '../move-tasks.js';
import { queueFromArn } from '../queue-url.js';

export const startMessageMoveTask: ActionHandler = async (input, ctx) => {
  const source = queueFromArn(reqString(input, 'SourceArn'), 'SourceArn', ctx.id);
  const destinationArn = optString(input, 'DestinationArn');
  const rate = optInt(input, 'MaxNumberOfMessagesPerSecond', 1, 500);
  const args: Record<string, unknown> = { queue: source };
  if (destinationArn !== undefined) args.destination = queueFromArn(destinationArn, 'DestinationArn', ctx.id);
  if (rate !== undefined) args.maxPerSecond = rate;
  try {
    const r = await ctx.backend.call<{ taskId: string }>('startRedrive', args);
    return { TaskHandle: encodeTaskHandle(source, r.taskId) };
  } catch (err) {
    throw toSqsError(err);
  }
};
