/**
 * CancelMessageMoveTask (SQS API Reference, "CancelMessageMoveTask"): only a running task can be
 * cancelled; a handle the broker does not know is ResourceNotFoundException. Ferry op: cancelRedrive.
 */
import type { ActionHandler } from '../action.js';
import { BrokerError, toSqsError } from '../backend.js';
import { SqsError } from '../errors.js';
import { reqString } from '../input.js';
import { decodeTaskHandle, STATES, type BrokerRedriveTask } from '../move-tasks.js';

export const cancelMessageMoveTask: ActionHandler = async (input, ctx) => {
  const { task } = decodeTaskHandle(reqString(input, 'TaskHandle'));
  let result: BrokerRedriveTask;
  try {
    // Cancelling an already finished task answers with that task; Amazon refuses it, so look first.
    const { tasks } = await ctx.backend.call<{ tasks: BrokerRedriveTask[] }>('listRedrives', {});
    const known = tasks.find((t) => t.task === task);
    if (known === undefined) throw new SqsError('ResourceNotFoundException', 'One or more specified resources don\'t exist.');
    if (known.state !== 'running') throw new SqsError('UnsupportedOperation', `Only a RUNNING task can be cancelled; this one is ${STATES[known.state] ?? known.state}.`);
    result = await ctx.backend.call<BrokerRedriveTask>('cancelRedrive', { task });
  } catch (err) {
    if (err instanceof BrokerError && err.wire.field === 'task') throw new SqsError('ResourceNotFoundException', 'One or more specified resources don\'t exist.', { cause: err });
    throw toSqsError(err);
  }
  if (result.state !== 'cancelled') throw new SqsError('UnsupportedOperation', `Only a RUNNING task can be cancelled; this one is ${result.state}.`);
  return { ApproximateNumberOfMessagesMoved: result.moved };
};
