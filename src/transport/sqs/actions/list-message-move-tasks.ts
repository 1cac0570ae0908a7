/** ListMessageMoveTasks (SQS API Reference, "ListMessageMoveTasks"): the most recent tasks of a source queue, MaxResults 1–10. Ferry op: listRedrives. */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { optInt, reqString } from '../input.js';
import { moveTaskEntry, type BrokerRedriveTask } from '../move-tasks.js';
import { queueFromArn } from '../queue-url.js';
import { viewQueue } from '../queues.js';

export const listMessageMoveTasks: ActionHandler = async (input, ctx) => {
  const source = queueFromArn(reqString(input, 'SourceArn'), 'SourceArn', ctx.id);
  const max = optInt(input, 'MaxResults', 1, 10) ?? 1;
  await viewQueue(ctx, source);
  let tasks: BrokerRedriveTask[];
  try {
    ({ tasks } = await ctx.backend.call<{ tasks: BrokerRedriveTask[] }>('listRedrives', {}));
  } catch (err) {
    throw toSqsError(err);
  }
  const recent = tasks.filter((t) => t.queue === source).sort((a, b) => b.startedAt - a.startedAt).slice(0, max);
  return { Results: recent.map((t) => moveTaskEntry(t, ctx.id)) };
};
