/** CancelMessageMoveTask (SQS API Reference, "CancelMessageMoveTask"): only a running task. Ferry op: cancelRedrive. */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { reqString } from '../input.js';
import { decodeTaskHandle } from '../move-tasks.js';

export const cancelMessageMoveTask: ActionHandler = async (input, ctx) => {
  const { queue, taskId } = decodeTaskHandle(reqString(input, 'TaskHandle'));
  try {
    const r = await ctx.backend.call<{ moved?: number }>('cancelRedrive', { queue, taskId });
    return { ApproximateNumberOfMessagesMoved: r.moved ?? 0 };
  } catch (err) {
    throw toSqsError(err, { QueueDoesNotExist: 'ResourceNotFoundException' });
  }
};
