/** ListMessageMoveTasks (SQS API Reference, "ListMessageMoveTasks"): the most recent tasks of a source queue, MaxResults 1–10. Ferry op: listRedrives. */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { optInt, reqString } from '../input.js';
import { encodeTaskHandle, type BrokerRedriveTask } from '../move-tasks.js';
import { queueArn, queueFromArn } from '../queue-url.js';

export const listMessageMoveTasks: ActionHandler = async (input, ctx) => {
  const sourceArn = reqString(input, 'SourceArn');
  const source = queueFromArn(sourceArn, 'SourceArn', ctx.id);
  const max = optInt(input, 'MaxResults', 1, 10) ?? 1;
  let tasks: BrokerRedriveTask[];
  try {
    ({ tasks } = await ctx.backend.call<{ tasks: BrokerRedriveTask[] }>('listRedrives', { queue: source }));
  } catch (err) {
    throw toSqsError(err);
  }
  const recent = [...tasks].sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0)).slice(0, max);
  return {
    Results: recent.map((t) => {
      const status = t.status.toUpperCase();
      const e: Record<string, unknown> = { Status: status, SourceArn: sourceArn };
      // Amazon gives a TaskHandle only for a running task.
      if (status === 'RUNNING') e.TaskHandle = encodeTaskHandle(source, t.taskId);
      if (t.destination !== undefined) e.DestinationArn = queueArn(ctx.id, t.destination);
      if (t.maxPerSecond !== undefined) e.MaxNumberOfMessagesPerSecond = t.maxPerSecond;
      if (t.moved !== undefined) e.ApproximateNumberOfMessagesMoved = t.moved;
      if (t.toMove !== undefined) e.ApproximateNumberOfMessagesToMove = t.toMove;
      if (t.failureReason !== undefined) e.FailureReason = t.failureReason;
      if (t.startedAt !== undefined) e.StartedTimestamp = t.startedAt;
      return e;
    }),
  };
};
