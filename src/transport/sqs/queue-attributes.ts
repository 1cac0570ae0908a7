/**
 * SQS queue attributes ↔ Ferry queue attributes (API Reference, CreateQueue / SetQueueAttributes /
 * GetQueueAttributes, "Attributes"). Seconds become milliseconds; RedrivePolicy becomes
 * `deadLetter {queue, maxReceives}`; FifoQueue becomes `ordering: 'strict'`;
 * ContentBasedDeduplication `contentDedup`; MessageRetentionPeriod `retentionMs`. Attributes the
 * broker has no field for are kept in the SQS metadata store (metadata.ts).
 */
import type { QueueAttributes, QueueStats } from '../../protocol/ops.js';
import { SqsError } from './errors.js';
import type { QueueMetadata } from './metadata.js';
import { queueArn, queueFromArn, type SqsIdentity } from './queue-url.js';

/** SQS's deduplication interval for FIFO queues: 5 minutes. */
export const FIFO_DEDUP_WINDOW_MS = 5 * 60 * 1000;

/** Attributes the broker may know: today's and those of the queue-semantics work. */
export type FerryQueueAttributes = QueueAttributes & {
  retentionMs?: number;
  deadLetter?: { queue: string; maxReceives: number } | null;
  ordering?: 'relaxed' | 'strict';
  contentDedup?: boolean;
  dedupWindowMs?: number;
};

type Seconds = { ferry: 'visibilityMs' | 'delayMs' | 'receiveWaitMs' | 'retentionMs'; min: number; max: number; default: number };
const SECONDS: Record<string, Seconds> = {
  VisibilityTimeout: { ferry: 'visibilityMs', min: 0, max: 43_200, default: 30 },
  DelaySeconds: { ferry: 'delayMs', min: 0, max: 900, default: 0 },
  ReceiveMessageWaitTimeSeconds: { ferry: 'receiveWaitMs', min: 0, max: 20, default: 0 },
  MessageRetentionPeriod: { ferry: 'retentionMs', min: 60, max: 1_209_600, default: 345_600 },
};

/** Stored in the metadata store, returned as given. */
const STORED = new Set(['Policy', 'RedriveAllowPolicy', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds', 'SqsManagedSseEnabled', 'DeduplicationScope', 'FifoThroughputLimit']);
const FIFO_ONLY = new Set(['ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit']);

/** Every name GetQueueAttributes knows, in SQS's order. */
export const READABLE_ATTRIBUTES = [
  'All', 'Policy', 'VisibilityTimeout', 'MaximumMessageSize', 'MessageRetentionPeriod', 'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible', 'CreatedTimestamp', 'LastModifiedTimestamp', 'QueueArn',
  'ApproximateNumberOfMessagesDelayed', 'DelaySeconds', 'ReceiveMessageWaitTimeSeconds', 'RedrivePolicy', 'FifoQueue',
  'ContentBasedDeduplication', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds', 'DeduplicationScope', 'FifoThroughputLimit',
  'RedriveAllowPolicy', 'SqsManagedSseEnabled',
] as const;

function badValue(name: string, reason: string): SqsError {
  return new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${name}. Reason: ${reason}`);
}

function intValue(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw badValue(name, `must be an integer from ${min} to ${max}.`);
  const n = Number(raw);
  if (n < min || n > max) throw badValue(name, `must be an integer from ${min} to ${max}.`);
  return n;
}

function boolValue(name: string, raw: string): boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw badValue(name, 'must be true or false.');
}

function jsonObject(name: string, raw: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw badValue(name, 'must be a JSON object.');
}

export interface TranslatedAttributes {
  ferry: Partial<FerryQueueAttributes>;
  stored: Record<string, string>;
}

/**
 * Checks SQS attributes of CreateQueue (`creating`) or SetQueueAttributes and splits them into the
 * broker's attributes and the stored ones.
 */
export function translateAttributes(attrs: Record<string, string>, queue: string, creating: boolean, id: SqsIdentity): TranslatedAttributes {
  const fifo = queue.endsWith('.fifo');
  const ferry: Partial<FerryQueueAttributes> = {};
  const stored: Record<string, string> = {};
  for (const [name, raw] of Object.entries(attrs)) {
    const secs = SECONDS[name];
    if (secs !== undefined) {
      ferry[secs.ferry] = intValue(name, raw, secs.min, secs.max) * 1000;
      continue;
    }
    if (FIFO_ONLY.has(name) && !fifo) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    switch (name) {
      case 'MaximumMessageSize':
        ferry.maxMessageBytes = intValue(name, raw, 1024, 1_048_576);
        break;
      case 'FifoQueue': {
        if (!creating) throw new SqsError('InvalidAttributeName', 'Unknown Attribute FifoQueue.');
        const want = boolValue(name, raw);
        if (want !== fifo) {
          throw new SqsError('InvalidParameterValue', 'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.');
        }
        break;
      }
      case 'ContentBasedDeduplication':
        ferry.contentDedup = boolValue(name, raw);
        break;
      case 'RedrivePolicy': {
        if (raw === '') {
          ferry.deadLetter = null;
          break;
        }
        const p = jsonObject(name, raw);
        const arn = p.deadLetterTargetArn;
        const max = typeof p.maxReceiveCount === 'number' ? String(p.maxReceiveCount) : p.maxReceiveCount;
        if (typeof arn !== 'string') throw badValue(name, 'Redrive policy does not contain mandatory attribute: deadLetterTargetArn.');
        if (typeof max !== 'string') throw badValue(name, 'Redrive policy does not contain mandatory attribute: maxReceiveCount.');
        ferry.deadLetter = { queue: queueFromArn(arn, name, id), maxReceives: intValue('RedrivePolicy.maxReceiveCount', max, 1, 1000) };
        break;
      }
      case 'RedriveAllowPolicy': {
        const p = jsonObject(name, raw);
        if (!['allowAll', 'denyAll', 'byQueue'].includes(String(p.redrivePermission))) throw badValue(name, 'redrivePermission must be allowAll, denyAll or byQueue.');
        if (p.redrivePermission === 'byQueue' && !Array.isArray(p.sourceQueueArns)) throw badValue(name, 'byQueue needs sourceQueueArns.');
        stored[name] = raw;
        break;
      }
      case 'Policy':
        if (raw !== '') jsonObject(name, raw);
        stored[name] = raw;
        break;
      case 'KmsDataKeyReusePeriodSeconds':
        intValue(name, raw, 60, 86_400);
        stored[name] = raw;
        break;
      case 'SqsManagedSseEnabled':
        boolValue(name, raw);
        stored[name] = raw;
        break;
      case 'DeduplicationScope':
        if (raw !== 'messageGroup' && raw !== 'queue') throw badValue(name, 'must be messageGroup or queue.');
        stored[name] = raw;
        break;
      case 'FifoThroughputLimit':
        if (raw !== 'perQueue' && raw !== 'perMessageGroupId') throw badValue(name, 'must be perQueue or perMessageGroupId.');
        stored[name] = raw;
        break;
      default:
        if (STORED.has(name)) {
          stored[name] = raw;
          break;
        }
        throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
  }
  if (creating && fifo) {
    ferry.ordering = 'strict';
    ferry.dedupWindowMs = FIFO_DEDUP_WINDOW_MS;
  }
  return { ferry, stored };
}

export interface QueueView {
  queue: string;
  attributes: FerryQueueAttributes;
  stats: QueueStats;
  createdAt: number;
}

/** GetQueueAttributes: every SQS attribute of the queue, as strings. */
export function sqsAttributes(view: QueueView, meta: QueueMetadata, id: SqsIdentity): Record<string, string> {
  const a = view.attributes;
  const fifo = view.queue.endsWith('.fifo');
  const out: Record<string, string> = {
    QueueArn: queueArn(id, view.queue),
    ApproximateNumberOfMessages: String(view.stats.visible),
    ApproximateNumberOfMessagesNotVisible: String(view.stats.leased),
    ApproximateNumberOfMessagesDelayed: String(view.stats.delayed),
    CreatedTimestamp: String(Math.floor(view.createdAt / 1000)),
    LastModifiedTimestamp: String(Math.floor(meta.lastModified / 1000)),
    VisibilityTimeout: String(Math.floor(a.visibilityMs / 1000)),
    MaximumMessageSize: String(a.maxMessageBytes),
    MessageRetentionPeriod: String(a.retentionMs === undefined ? SECONDS.MessageRetentionPeriod!.default : Math.floor(a.retentionMs / 1000)),
    DelaySeconds: String(Math.floor(a.delayMs / 1000)),
    ReceiveMessageWaitTimeSeconds: String(Math.floor(a.receiveWaitMs / 1000)),
    SqsManagedSseEnabled: 'false',
  };
  if (a.deadLetter !== undefined && a.deadLetter !== null) {
    out.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: queueArn(id, a.deadLetter.queue), maxReceiveCount: a.deadLetter.maxReceives });
  }
  if (fifo) {
    out.FifoQueue = 'true';
    out.ContentBasedDeduplication = String(a.contentDedup === true);
    out.DeduplicationScope = 'queue';
    out.FifoThroughputLimit = 'perQueue';
  }
  Object.assign(out, meta.attributes);
  if (out.Policy === '') delete out.Policy;
  return out;
}

/** The AttributeNames selection: `All` or names; an unknown name is InvalidAttributeName. */
export function selectQueueAttributes(all: Record<string, string>, names: readonly string[] | undefined): Record<string, string> {
  if (names === undefined || names.length === 0) return {};
  for (const n of names) {
    if (!(READABLE_ATTRIBUTES as readonly string[]).includes(n)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
  }
  if (names.includes('All')) return all;
  const out: Record<string, string> = {};
  for (const n of names) if (all[n] !== undefined) out[n] = all[n];
  return out;
}
