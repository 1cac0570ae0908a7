/**
 * Dead-lettering and redrive as records: what a message carries when it leaves its queue for
 * another one. The move itself is the outbox protocol of docs/queue-semantics.md ("Moving a
 * message between queues"): the source writes a ForwardRecord ('F' key) in the same synced batch
 * that removes the message; the main thread carries it to the target's shard; the target inserts it
 * idempotently (keyed by source queue id and sequence, plus the consumer group for a stream group's
 * dead letter) and only after the target's commit does the
 * source drop its record. So the message is always durable in exactly one place — its queue, its
 * outbox record, or the target queue — and visible to consumers in at most one.
 */
import type { DeadLetterInfo, DeadLetterReason } from '../protocol/ops.js';
import type { ForwardRecord, ForwardedMessage } from '../storage/records.js';
import type { Msg } from './message.js';

/**
 * The record that moves `msg` (whose body is `body`) to `target` as a dead letter. `group`: a
 * stream consumer group dead-letters its own copy, with its own receive count.
 */
export function deadLetterRecord(
  msg: Msg, body: Uint8Array, target: string, reason: DeadLetterReason, sourceQueue: string, now: number,
  group?: { name: string; receiveCount: number },
): ForwardRecord {
  const info: DeadLetterInfo = {
    reason,
    sourceQueue,
    originalMessageId: msg.id,
    receiveCount: group?.receiveCount ?? msg.receiveCount,
    firstSentAt: msg.sentAt,
    deadLetteredAt: now,
  };
  if (group !== undefined) info.group = group.name;
  return { target, message: forwarded(msg, body, info) };
}

/**
 * The record that sends a dead letter back (redrive): to `target`, or to the queue it came from.
 * Undefined when neither is known (a message that was never dead-lettered has no source).
 */
export function redriveRecord(msg: Msg, body: Uint8Array, target: string | undefined): ForwardRecord | undefined {
  const to = target ?? msg.extra?.deadLetter?.sourceQueue;
  if (to === undefined) return undefined;
  return { target: to, message: forwarded(msg, body, undefined) };
}

function forwarded(msg: Msg, body: Uint8Array, deadLetter: DeadLetterInfo | undefined): ForwardedMessage {
  const m: ForwardedMessage = { id: msg.id, body };
  if (msg.attributes !== undefined) m.attributes = msg.attributes;
  if (msg.extra?.groupId !== undefined) m.groupId = msg.extra.groupId;
  if (deadLetter !== undefined) m.deadLetter = deadLetter;
  return m;
}
