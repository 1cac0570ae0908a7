/** Helpers the queue actions share: resolve a QueueUrl, read a queue's view and metadata. */
import type { ActionContext } from './action.js';
import { toSqsError } from './backend.js';
import { reqString, type Input } from './input.js';
import type { QueueMetadata } from './metadata.js';
import type { QueueView } from './queue-attributes.js';
import { queueFromUrl } from './queue-url.js';

export function queueOf(input: Input, ctx: ActionContext): string {
  return queueFromUrl(reqString(input, 'QueueUrl'), ctx.id);
}

export async function viewQueue(ctx: ActionContext, queue: string): Promise<QueueView> {
  try {
    return await ctx.backend.call<QueueView>('getQueueAttributes', { queue });
  } catch (err) {
    throw toSqsError(err);
  }
}

export async function queueMetadata(ctx: ActionContext, queue: string): Promise<{ view: QueueView; meta: QueueMetadata }> {
  const view = await viewQueue(ctx, queue);
  return { view, meta: ctx.meta.get(queue, view.createdAt) };
}
