/**
 * ChangeMessageVisibilityBatch (SQS API Reference, "ChangeMessageVisibilityBatch"): each entry is
 * one Ferry changeVisibility (the protocol has no batch form of it); failures are per entry.
 */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { failedEntry } from '../batch.js';
import { batchEntries, reqInt, reqString } from '../input.js';
import { queueOf } from '../queues.js';

export const changeMessageVisibilityBatch: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const entries = batchEntries(input, 'ChangeMessageVisibilityBatchRequestEntry');
  const outcomes = await Promise.all(entries.map(async (e) => {
    const id = e.Id as string;
    try {
      const receipt = reqString(e, 'ReceiptHandle');
      const visibility = reqInt(e, 'VisibilityTimeout', 0, 43_200);
      await ctx.backend.call('changeVisibility', { queue, receipt, visibilityMs: visibility * 1000 });
      return { ok: { Id: id } };
    } catch (err) {
      const sqs = toSqsError(err, { ReceiptHandleExpired: 'MessageNotInflight' });
      if (sqs.code === 'QueueDoesNotExist') throw sqs;
      return { failed: failedEntry(id, sqs) };
    }
  }));
  return {
    Successful: outcomes.flatMap((o) => ('ok' in o ? [o.ok] : [])),
    Failed: outcomes.flatMap((o) => ('failed' in o ? [o.failed] : [])),
  };
};
