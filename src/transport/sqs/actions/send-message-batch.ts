/**
 * SendMessageBatch (SQS API Reference, "SendMessageBatch"): up to 10 entries; an entry that fails
 * its checks is reported in Failed and the others are still sent, in one Ferry sendBatch.
 */
import type { BatchEntryResult, SendResult } from '../../../protocol/ops.js';
import type { ActionHandler } from '../action.js';
import { BrokerError, toSqsError } from '../backend.js';
import { SqsError } from '../errors.js';
import { batchEntries } from '../input.js';
import { checkFifoDedup, MAX_BATCH_BYTES, prepareSend, sequenceNumber, type PreparedSend } from '../messages.js';
import { queueOf, viewQueue } from '../queues.js';
import { failedEntry } from '../batch.js';

export const sendMessageBatch: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const entries = batchEntries(input, 'SendMessageBatchRequestEntry');
  const failed: Record<string, unknown>[] = [];
  const ready: Array<{ id: string; p: PreparedSend }> = [];
  let total = 0;
  for (const e of entries) {
    try {
      const p = prepareSend(e, queue, ctx.backend.maxBodyBytes);
      total += p.bytes;
      ready.push({ id: e.Id as string, p });
    } catch (err) {
      failed.push(failedEntry(e.Id as string, toSqsError(err)));
    }
  }
  if (total > MAX_BATCH_BYTES) {
    throw new SqsError('BatchRequestTooLong', `Batch requests cannot be longer than ${MAX_BATCH_BYTES} bytes. You have sent ${total} bytes.`);
  }
  const successful: Record<string, unknown>[] = [];
  if (queue.endsWith('.fifo') && ready.length > 0) {
    const err = await checkFifoDedup(ready.map((r) => r.p.entry), async () => (await viewQueue(ctx, queue)).attributes.contentDedup === true);
    if (err !== undefined) {
      // Entries with their own id are fine; those without fail one by one, as Amazon reports them.
      for (const r of ready.filter((x) => x.p.entry.dedupId === undefined)) failed.push(failedEntry(r.id, err));
      ready.splice(0, ready.length, ...ready.filter((x) => x.p.entry.dedupId !== undefined));
    }
  }
  if (ready.length > 0) {
    let results: BatchEntryResult<SendResult>[];
    try {
      ({ results } = await ctx.backend.call<{ results: BatchEntryResult<SendResult>[] }>('sendBatch', { queue, entries: ready.map((r) => r.p.entry) }));
    } catch (err) {
      throw toSqsError(err);
    }
    results.forEach((res, i) => {
      const { id, p } = ready[i]!;
      if ('error' in res) {
        failed.push(failedEntry(id, toSqsError(new BrokerError(res.error))));
        return;
      }
      const ok: Record<string, unknown> = { Id: id, MessageId: res.ok.messageId, MD5OfMessageBody: p.md5Body };
      if (p.md5Attributes !== undefined) ok.MD5OfMessageAttributes = p.md5Attributes;
      if (p.md5SystemAttributes !== undefined) ok.MD5OfMessageSystemAttributes = p.md5SystemAttributes;
      if (queue.endsWith('.fifo')) ok.SequenceNumber = sequenceNumber(res.ok.seq);
      successful.push(ok);
    });
  }
  return { Successful: successful, Failed: failed };
};
