/**
 * ListDeadLetterSourceQueues (SQS API Reference, "ListDeadLetterSourceQueues"): the queues whose
 * RedrivePolicy (Ferry `deadLetter.queue`) names this queue. Pages with MaxResults 1–1000 and
 * NextToken; walks the queue list, so it costs one attribute read per queue.
 */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { optInt, optString } from '../input.js';
import { decodeToken, encodeToken } from '../paging.js';
import type { QueueView } from '../queue-attributes.js';
import { queueUrl } from '../queue-url.js';
import { queueOf, viewQueue } from '../queues.js';

export const listDeadLetterSourceQueues: ActionHandler = async (input, ctx) => {
  const target = queueOf(input, ctx);
  const maxResults = optInt(input, 'MaxResults', 1, 1000);
  const token = optString(input, 'NextToken');
  await viewQueue(ctx, target);
  const limit = maxResults ?? 1000;
  const sources: string[] = [];
  let after = token === undefined ? undefined : decodeToken(token);
  let more = false;
  try {
    for (;;) {
      const page = await ctx.backend.call<{ queues: string[]; next?: string }>('listQueues', after === undefined ? { limit: 1000 } : { limit: 1000, after });
      const views = await Promise.all(page.queues.map((q) => ctx.backend.call<QueueView>('getQueueAttributes', { queue: q }).catch(() => undefined)));
      for (const v of views) {
        if (v?.attributes.deadLetter?.queue !== target) continue;
        if (sources.length === limit) {
          more = true;
          break;
        }
        sources.push(v.queue);
      }
      if (more || page.next === undefined) break;
      after = page.next;
    }
  } catch (err) {
    throw toSqsError(err);
  }
  const out: Record<string, unknown> = { queueUrls: sources.map((q) => queueUrl(ctx.host, ctx.id, q)) };
  if (more && maxResults !== undefined) out.NextToken = encodeToken(sources[sources.length - 1]!);
  return out;
};
