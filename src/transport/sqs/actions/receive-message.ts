/**
 * ReceiveMessage (SQS API Reference, "ReceiveMessage"): MaxNumberOfMessages 1–10,
 * VisibilityTimeout 0–43200 s, WaitTimeSeconds 0–20 s (long polling: the Ferry receive waits and
 * returns as soon as a message arrives), AttributeNames / MessageSystemAttributeNames and
 * MessageAttributeNames selections. ReceiveRequestAttemptId is accepted and not used.
 */
import type { ActionHandler } from '../action.js';
import { toSqsError } from '../backend.js';
import { optInt, optString, optStringList } from '../input.js';
import { toSqsMessage, type Delivered } from '../messages.js';
import { queueOf } from '../queues.js';

export const receiveMessage: ActionHandler = async (input, ctx) => {
  const queue = queueOf(input, ctx);
  const max = optInt(input, 'MaxNumberOfMessages', 1, 10) ?? 1;
  const visibility = optInt(input, 'VisibilityTimeout', 0, 43_200);
  const wait = optInt(input, 'WaitTimeSeconds', 0, 20);
  optString(input, 'ReceiveRequestAttemptId');
  const system = [...(optStringList(input, 'AttributeNames') ?? []), ...(optStringList(input, 'MessageSystemAttributeNames') ?? [])];
  const attributes = optStringList(input, 'MessageAttributeNames');
  const args: Record<string, unknown> = { queue, max };
  if (visibility !== undefined) args.visibilityMs = visibility * 1000;
  if (wait !== undefined) args.waitMs = wait * 1000;
  let messages: Delivered[];
  try {
    ({ messages } = await ctx.backend.call<{ messages: Delivered[] }>('receive', args, ctx.signal));
  } catch (err) {
    throw toSqsError(err);
  }
  if (messages.length === 0) return {};
  return { Messages: messages.map((m) => toSqsMessage(m, queue, { system, attributes }, ctx.id)) };
};
