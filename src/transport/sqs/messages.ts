/**
 * SendMessage entries → Ferry send entries, and delivered Ferry messages → SQS Messages.
 * Shared by SendMessage/SendMessageBatch and ReceiveMessage.
 */
import type { DeliveredMessage } from '../../protocol/ops.js';
import { invalidValue, missingParameter, SqsError } from './errors.js';
import { optInt, optString, type Input } from './input.js';
import { md5Hex, md5OfAttributes } from './md5.js';
import { fromFerryAttributes, hasInvalidCharacters, parseMessageAttributes, parseSystemAttributes, selectAttributes, toFerryAttributes, type SqsAttributes } from './message-attributes.js';
import { queueArn, type SqsIdentity } from './queue-url.js';

/** Largest message (body plus attributes) SQS accepts, and the largest batch payload. */
export const MAX_MESSAGE_BYTES = 1_048_576;
export const MAX_BATCH_BYTES = 1_048_576;
const MAX_ID_LENGTH = 128;
const ID_RE = /^[\x21-\x7E]{1,128}$/;

export interface PreparedSend {
  /** Ferry send entry (queue excluded). */
  entry: Record<string, unknown>;
  bytes: number;
  md5Body: string;
  md5Attributes: string | undefined;
  md5SystemAttributes: string | undefined;
}

/** Checks one SendMessage(-BatchRequestEntry) and builds its Ferry entry. */
export function prepareSend(input: Input, queue: string, maxBodyBytes: number): PreparedSend {
  const body = input.MessageBody;
  if (body === undefined || body === null || body === '') throw missingParameter('MessageBody');
  if (typeof body !== 'string') throw invalidValue('MessageBody', 'must be a string.');
  if (hasInvalidCharacters(body)) {
    throw new SqsError('InvalidMessageContents', 'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF');
  }
  const fifo = queue.endsWith('.fifo');
  const delay = optInt(input, 'DelaySeconds', 0, 900);
  const groupId = optString(input, 'MessageGroupId');
  const dedupId = optString(input, 'MessageDeduplicationId');
  const attrs = parseMessageAttributes(input.MessageAttributes);
  const system = parseSystemAttributes(input.MessageSystemAttributes);
  const bodyBytes = Buffer.byteLength(body, 'utf8');
  const bytes = bodyBytes + attrs.bytes;
  if (bytes > MAX_MESSAGE_BYTES) {
    throw invalidValue('MessageBody', `Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`);
  }
  if (bodyBytes > maxBodyBytes) throw invalidValue('MessageBody', `Message must be shorter than ${maxBodyBytes} bytes (this broker's maxMessageBytes).`);
  const entry: Record<string, unknown> = { body };
  if (fifo) {
    if (delay !== undefined && delay > 0) {
      throw invalidValue('DelaySeconds', 'The request include parameter that is not valid for this queue type.', String(delay));
    }
    if (groupId === undefined || groupId === '') throw missingParameter('MessageGroupId');
    if (!ID_RE.test(groupId)) throw invalidValue('MessageGroupId', `must be 1 to ${MAX_ID_LENGTH} printable ASCII characters.`, groupId);
    entry.groupId = groupId;
    if (dedupId !== undefined) {
      if (!ID_RE.test(dedupId)) throw invalidValue('MessageDeduplicationId', `must be 1 to ${MAX_ID_LENGTH} printable ASCII characters.`, dedupId);
      entry.dedupId = dedupId;
    }
  } else {
    if (dedupId !== undefined) {
      throw invalidValue('MessageDeduplicationId', 'The request include parameter that is not valid for this queue type.', dedupId);
    }
    if (delay !== undefined) entry.delayMs = delay * 1000;
    // On a standard queue MessageGroupId is Amazon's fair-queue tenant; a relaxed Ferry queue is fair across groupIds.
    if (groupId !== undefined) {
      if (!ID_RE.test(groupId)) throw invalidValue('MessageGroupId', `must be 1 to ${MAX_ID_LENGTH} printable ASCII characters.`, groupId);
      entry.groupId = groupId;
    }
  }
  const trace = system.attributes?.AWSTraceHeader?.StringValue;
  const ferryAttrs = toFerryAttributes(attrs.attributes, trace);
  if (ferryAttrs !== undefined) entry.attributes = ferryAttrs;
  return {
    entry,
    bytes,
    md5Body: md5Hex(body),
    md5Attributes: md5OfAttributes(attrs.attributes),
    md5SystemAttributes: md5OfAttributes(system.attributes),
  };
}

/** SequenceNumber of a FIFO message: its log position, as Amazon's, a 20-digit decimal string. */
export function sequenceNumber(seq: number): string {
  return String(seq).padStart(20, '0');
}

export const SYSTEM_ATTRIBUTE_NAMES = [
  'SenderId', 'SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'SequenceNumber',
  'MessageDeduplicationId', 'MessageGroupId', 'AWSTraceHeader', 'DeadLetterQueueSourceArn',
] as const;

/** A delivered message, with the fields the queue-semantics work adds when it is present. */
export type Delivered = DeliveredMessage & { groupId?: string; dedupId?: string; deadLetter?: { sourceQueue: string } };

export interface ReceiveSelection {
  /** System attribute names asked for (All included). */
  system: readonly string[];
  /** Message attribute names asked for. */
  attributes: readonly string[] | undefined;
}

export function toSqsMessage(m: Delivered, queue: string, sel: ReceiveSelection, id: SqsIdentity): Record<string, unknown> {
  const body = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength).toString('utf8');
  const { attributes, traceHeader } = fromFerryAttributes(m.attributes);
  const out: Record<string, unknown> = { MessageId: m.messageId, ReceiptHandle: m.receipt, MD5OfBody: md5Hex(body), Body: body };
  const all: Record<string, string> = {
    SenderId: id.accountId,
    SentTimestamp: String(m.sentAt),
    ApproximateReceiveCount: String(m.receiveCount),
    ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt),
  };
  if (queue.endsWith('.fifo')) {
    all.SequenceNumber = sequenceNumber(m.seq);
    if (m.groupId !== undefined) all.MessageGroupId = m.groupId;
    if (m.dedupId !== undefined) all.MessageDeduplicationId = m.dedupId;
  }
  if (traceHeader !== undefined) all.AWSTraceHeader = traceHeader;
  if (m.deadLetter !== undefined) all.DeadLetterQueueSourceArn = queueArn(id, m.deadLetter.sourceQueue);
  const wantAll = sel.system.includes('All');
  const system: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) if (wantAll || sel.system.includes(k)) system[k] = v;
  if (Object.keys(system).length > 0) out.Attributes = system;
  const selected: SqsAttributes | undefined = selectAttributes(attributes, sel.attributes);
  if (selected !== undefined) {
    out.MessageAttributes = selected;
    out.MD5OfMessageAttributes = md5OfAttributes(selected);
  }
  return out;
}

/**
 * A FIFO send needs a MessageDeduplicationId unless the queue has ContentBasedDeduplication
 * (API Reference, SendMessage "MessageDeduplicationId"). Looks the queue up only when an entry
 * has none.
 */
export async function checkFifoDedup(entries: ReadonlyArray<Record<string, unknown>>, contentDedup: () => Promise<boolean>): Promise<SqsError | undefined> {
  if (entries.every((e) => e.dedupId !== undefined)) return undefined;
  if (await contentDedup()) return undefined;
  return new SqsError('InvalidParameterValue', 'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly');
}
