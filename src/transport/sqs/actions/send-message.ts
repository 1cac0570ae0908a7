/** SendMessage (SQS API Reference, "SendMessage"). */
import type { SendResult } from '../../../protocol/ops.js';
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { checkFifoDedup, prepareSend, sequenceNumber } from '../messages.js';
import { queueOf, viewQueue } from '../queues.js';

export const sendMessage: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const p = prepareSend(input, queue, ctx.backend.maxBodyBytes);
  if (queue.endsWith('.fifo')) {
    const err = await checkFifoDedup([p.entry], async () => (await viewQueue(ctx, queue)).attributes.contentDedup === true);
    if (err !== undefined) throw err;
  }
  let r: SendResult;
  try {
    r = await ctx.backend.call<SendResult>('send', { queue, ...p.entry });
  } catch (err) {
    throw toSqsError(err);
  }
  const out: Record<string, unknown> = { MessageId: r.messageId, MD5OfMessageBody: p.md5Body };
  if (p.md5Attributes !== undefined) out.MD5OfMessageAttributes = p.md5Attributes;
  if (p.md5SystemAttributes !== undefined) out.MD5OfMessageSystemAttributes = p.md5SystemAttributes;
  if (queue.endsWith('.fifo')) out.SequenceNumber = sequenceNumber(r.seq);
  return out;
};
