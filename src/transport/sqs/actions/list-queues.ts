/**
 * ListQueues (SQS API Reference, "ListQueues"): QueueNamePrefix, MaxResults 1–1000, NextToken.
 * Without MaxResults at most 1000 URLs and no NextToken, as Amazon.
 */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { optInt, optString } from '../input.js';
import { decodeToken, encodeToken } from '../paging.js';
import { queueUrl } from '../queue-url.js';

export const listQueues: ActionHandler = async (input, ctx) => {
  const prefix = optString(input, 'QueueNamePrefix');
  const maxResults = optInt(input, 'MaxResults', 1, 1000);
  const token = optString(input, 'NextToken');
  const args: Record<string, unknown> = { limit: maxResults ?? 1000 };
  if (prefix !== undefined && prefix !== '') args.prefix = prefix;
  if (token !== undefined) args.after = decodeToken(token);
  let page: { queues: string[]; next?: string };
  try {
    page = await ctx.backend.call('listQueues', args);
  } catch (err) {
    throw toSqsError(err);
  }
  const out: Record<string, unknown> = {};
  if (page.queues.length > 0) out.QueueUrls = page.queues.map((q) => queueUrl(ctx.host, ctx.id, q));
  if (maxResults !== undefined && page.next !== undefined) out.NextToken = encodeToken(page.next);
  return out;
};
