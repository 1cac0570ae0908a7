/** DeleteMessageBatch (SQS API Reference, "DeleteMessageBatch"): one Ferry deleteBatch, per-entry results. */
import type { BatchEntryResult } from '../../../protocol/ops.js';
import type { ActionHandler } from '../action.js';
import { BrokerError, toSqsError } from '../backend.js';
import { failedEntry } from '../batch.js';
import { missingParameter } from '../errors.js';
import { batchEntries } from '../input.js';
import { queueOf } from '../queues.js';

export const deleteMessageBatch: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const entries = batchEntries(input, 'DeleteMessageBatchRequestEntry');
  const successful: Record<string, unknown>[] = [];
  const failed: Record<string, unknown>[] = [];
  const valid = entries.filter((e) => {
    if (typeof e.ReceiptHandle === 'string' && e.ReceiptHandle !== '') return true;
    failed.push(failedEntry(e.Id as string, missingParameter('ReceiptHandle')));
    return false;
  });
  if (valid.length > 0) {
    let results: BatchEntryResult<{ deleted: boolean }>[];
    try {
      ({ results } = await ctx.backend.call<{ results: BatchEntryResult<{ deleted: boolean }>[] }>('deleteBatch', { queue, receipts: valid.map((e) => e.ReceiptHandle) }));
    } catch (err) {
      throw toSqsError(err);
    }
    results.forEach((r, i) => {
      const id = valid[i]!.Id as string;
      if ('ok' in r || r.error.code === 'ReceiptHandleExpired') successful.push({ Id: id });
      else failed.push(failedEntry(id, toSqsError(new BrokerError(r.error))));
    });
  }
  return { Successful: successful, Failed: failed };
};
