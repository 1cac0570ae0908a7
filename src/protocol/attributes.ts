/**
 * Queue attributes: validation of what a client sends (createQueue, setQueueAttributes) and the
 * rules that tie attributes together. Each check names the field at fault (`attributes.overflow`)
 * with a stable code; docs/queue-semantics.md lists every attribute with its range and default.
 *
 * Two kinds of checks live here:
 * - shape and range of each value (`queueAttributes`), done on the main thread for every request;
 * - rules across attributes of the resulting queue (`mergeAttributes`), done by the owner of the
 *   queue when it applies a create or an update, because only it knows the current values.
 * Rules that need other queues (the dead-letter queue exists, no cycles) are the router's.
 */
import { ErrorCodes, FerryError } from './errors.js';
import { Limits, isValidQueueName } from './limits.js';
import {
  DEFAULT_QUEUE_ATTRIBUTES, ORDERINGS, OVERFLOW_POLICIES, QUEUE_MODES,
  type DeadLetterTarget, type QueueAttributes,
} from './ops.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** A value of the wrong type or shape: InvalidField, as for any other field of a request. */
function invalid(field: string, what: string): FerryError {
  return new FerryError(ErrorCodes.InvalidField, `${field} must be ${what}`, { field });
}

function intIn(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(field, 'an integer');
  if (v < min || v > max) throw new FerryError(ErrorCodes.ValueOutOfRange, `${field} must be from ${min} to ${max}, got ${v}`, { field });
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw invalid(field, `one of ${allowed.join(', ')}`);
  return v as T;
}

function deadLetter(v: unknown, field: string): DeadLetterTarget | null {
  if (v === null) return null;
  if (!isObj(v)) throw invalid(field, 'a map {queue, maxReceives} or null');
  for (const k of Object.keys(v)) if (k !== 'queue' && k !== 'maxReceives') throw invalid(`${field}.${k}`, 'absent (known: queue, maxReceives)');
  if (v.queue === undefined) throw new FerryError(ErrorCodes.MissingField, `${field}.queue is required`, { field: `${field}.queue` });
  if (!isValidQueueName(v.queue)) throw new FerryError(ErrorCodes.InvalidQueueName, `${field}.queue must be a valid queue name`, { field: `${field}.queue` });
  if (v.maxReceives === undefined) throw new FerryError(ErrorCodes.MissingField, `${field}.maxReceives is required`, { field: `${field}.maxReceives` });
  return { queue: v.queue as string, maxReceives: intIn(v.maxReceives, `${field}.maxReceives`, 1, Limits.maxReceivesCeiling) };
}

/** One parser per attribute: value in, checked value out. */
const PARSERS: { [K in keyof QueueAttributes]: (v: unknown, field: string) => QueueAttributes[K] } = {
  visibilityMs: (v, f) => intIn(v, f, 0, Limits.maxVisibilityMs),
  maxMessageBytes: (v, f) => intIn(v, f, 1, Limits.maxMessageBytesCeiling),
  receiveWaitMs: (v, f) => intIn(v, f, 0, Limits.maxWaitMs),
  delayMs: (v, f) => intIn(v, f, 0, Limits.maxDelayMs),
  retentionMs: (v, f) => intIn(v, f, Limits.minRetentionMs, Limits.maxRetentionMs),
  deadLetter,
  maxLength: (v, f) => intIn(v, f, 0, Limits.maxLengthCeiling),
  maxBytes: (v, f) => intIn(v, f, 0, Limits.maxBytesCeiling),
  overflow: (v, f) => oneOf(v, f, OVERFLOW_POLICIES),
  ordering: (v, f) => oneOf(v, f, ORDERINGS),
  dedupWindowMs: (v, f) => intIn(v, f, 0, Limits.maxDedupWindowMs),
  contentDedup: (v, f) => {
    if (typeof v !== 'boolean') throw invalid(f, 'true or false');
    return v;
  },
  orderingWindowMs: (v, f) => intIn(v, f, 0, Limits.maxOrderingWindowMs),
  mode: (v, f) => oneOf(v, f, QUEUE_MODES),
};

export const ATTRIBUTE_NAMES = Object.keys(PARSERS) as Array<keyof QueueAttributes>;

/** Queue attributes from outside: every name known, every value of the right type and in range. */
export function queueAttributes(v: unknown, path = 'attributes'): Partial<QueueAttributes> {
  if (!isObj(v)) throw new FerryError(ErrorCodes.InvalidField, `${path} must be a map of attributes`, { field: path });
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) {
    const parse = PARSERS[key as keyof QueueAttributes];
    if (parse === undefined) {
      throw new FerryError(ErrorCodes.InvalidAttribute, `${path}.${key} is not a queue attribute (known: ${ATTRIBUTE_NAMES.join(', ')})`, { field: `${path}.${key}` });
    }
    // null means "not given", as for every optional field of the protocol: the attribute keeps its
    // value or default (storing null would erase it and leave leases or long polls without an end).
    // deadLetter is the exception: null there removes the dead-letter queue.
    if (v[key] === undefined || (v[key] === null && key !== 'deadLetter')) continue;
    out[key] = parse(v[key], `${path}.${key}`);
  }
  return out as Partial<QueueAttributes>;
}

/**
 * Applies a create or an update to the current attributes and checks the rules across them.
 * `current` undefined = a new queue (defaults fill the rest). Throws FerryError naming the field.
 */
export function mergeAttributes(queueName: string, current: QueueAttributes | undefined, patch: Partial<QueueAttributes>): QueueAttributes {
  const base = current ?? DEFAULT_QUEUE_ATTRIBUTES;
  const next: QueueAttributes = { ...DEFAULT_QUEUE_ATTRIBUTES, ...base, ...patch };
  // Strict queues deduplicate by default (as SQS FIFO queues do), unless the window is set explicitly.
  if (next.ordering === 'strict' && base.ordering !== 'strict' && patch.dedupWindowMs === undefined && (current === undefined || base.dedupWindowMs === 0)) {
    next.dedupWindowMs = Limits.defaultStrictDedupWindowMs;
  }
  if (next.deadLetter !== null && next.deadLetter.queue === queueName) {
    throw new FerryError(ErrorCodes.InvalidAttribute, `attributes.deadLetter.queue: queue ${queueName} cannot be its own dead-letter queue`, { field: 'attributes.deadLetter.queue' });
  }
  if (next.overflow === 'deadLetterNew' && next.deadLetter === null) {
    throw new FerryError(ErrorCodes.InvalidAttribute, 'attributes.overflow: deadLetterNew needs a deadLetter queue', { field: 'attributes.overflow' });
  }
  if (current !== undefined && patch.mode !== undefined && patch.mode !== current.mode) {
    throw new FerryError(ErrorCodes.InvalidAttribute, `attributes.mode cannot change after the queue was created (it is ${current.mode})`, { field: 'attributes.mode' });
  }
  if (next.mode === 'stream' && next.ordering === 'strict') {
    throw new FerryError(ErrorCodes.InvalidAttribute, 'attributes.ordering: a stream keeps its log order; strict ordering is for queue mode', { field: 'attributes.ordering' });
  }
  if (next.mode === 'stream' && next.orderingWindowMs > 0) {
    throw new FerryError(ErrorCodes.InvalidAttribute, 'attributes.orderingWindowMs: not supported in stream mode', { field: 'attributes.orderingWindowMs' });
  }
  if (next.contentDedup && next.dedupWindowMs === 0) {
    throw new FerryError(ErrorCodes.InvalidAttribute, 'attributes.contentDedup needs a dedupWindowMs above 0', { field: 'attributes.contentDedup' });
  }
  return next;
}

/** Attribute equality for an idempotent createQueue (deadLetter compares by value). */
export function sameAttributeValue(a: unknown, b: unknown): boolean {
  if (isObj(a) && isObj(b)) return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}
