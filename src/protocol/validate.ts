/**
 * Validation of request frames from outside. Every check names the field at fault and raises a
 * FerryError with a stable code; nothing here trusts the decoded CBOR's types. Queue-specific rules
 * (a body against the queue's own maxMessageBytes, receipts) are the QueueActor's, which knows the queue.
 */
import { ErrorCodes, FerryError } from './errors.js';
import { Limits, isValidQueueName } from './limits.js';
import { queueAttributes } from './attributes.js';
import { partitioningArg, partitioningConflict } from './partitioning.js';
import { ACKS_POLICIES, isOpName, type AcksPolicy, type MessageAttributes, type OpArgs, type OpName, type QueueAttributes, type SendEntry, type StreamPosition } from './ops.js';

/** A frame that failed validation, with the id when one could be read (so the reply can carry it). */
export class InvalidRequest extends Error {
  override readonly name = 'InvalidRequest';
  constructor(readonly id: number | null, readonly error: FerryError) {
    super(error.message, { cause: error });
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function missing(field: string): FerryError {
  return new FerryError(ErrorCodes.MissingField, `${field} is required`, { field });
}

function invalid(field: string, what: string): FerryError {
  return new FerryError(ErrorCodes.InvalidField, `${field} must be ${what}`, { field });
}

function int(o: Obj, field: string, min: number, max: number, path = field): number | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(path, 'an integer');
  if (v < min || v > max) throw new FerryError(ErrorCodes.ValueOutOfRange, `${path} must be from ${min} to ${max}, got ${v}`, { field: path });
  return v;
}

function requiredInt(o: Obj, field: string, min: number, max: number, path = field): number {
  const v = int(o, field, min, max, path);
  if (v === undefined) throw missing(path);
  return v;
}

function str(o: Obj, field: string, path = field): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(path, 'a string');
  return v;
}

function requiredStr(o: Obj, field: string, path = field): string {
  const v = str(o, field, path);
  if (v === undefined) throw missing(path);
  return v;
}

function queueName(o: Obj, field = 'queue'): string {
  const v = requiredStr(o, field);
  if (!isValidQueueName(v)) {
    throw new FerryError(ErrorCodes.InvalidQueueName, `${field} must be 1–80 characters of [A-Za-z0-9_-], optionally ending in .fifo; got ${JSON.stringify(v.slice(0, 100))}`, { field });
  }
  return v;
}

/** A cluster node id, as `--node-id` takes it: 1–64 of [A-Za-z0-9_-]. */
function nodeId(o: Obj, field: string): string {
  const v = requiredStr(o, field);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) throw invalid(field, 'a node id of 1–64 characters of [A-Za-z0-9_-]');
  return v;
}

function body(o: Obj, path: string, maxBytes: number): Uint8Array {
  const v = o.body;
  if (v === undefined || v === null) throw missing(path);
  const bytes = typeof v === 'string' ? Buffer.from(v, 'utf8') : v instanceof Uint8Array ? v : undefined;
  if (bytes === undefined) throw invalid(path, 'a byte string or a text string');
  if (bytes.byteLength === 0) throw new FerryError(ErrorCodes.EmptyBody, `${path} must not be empty`, { field: path });
  if (bytes.byteLength > maxBytes) throw new FerryError(ErrorCodes.BodyTooLarge, `${path} is ${bytes.byteLength} bytes; the broker accepts at most ${maxBytes}`, { field: path });
  return bytes;
}

function messageAttributes(o: Obj, path: string): MessageAttributes | undefined {
  const v = o.attributes;
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw invalid(path, 'a map of strings');
  const keys = Object.keys(v);
  if (keys.length > Limits.maxMessageAttributes) {
    throw new FerryError(ErrorCodes.ValueOutOfRange, `${path} has ${keys.length} entries; at most ${Limits.maxMessageAttributes}`, { field: path });
  }
  const out: MessageAttributes = {};
  for (const k of keys) {
    const val = v[k];
    if (k.length === 0 || k.length > Limits.maxAttributeKeyLength) throw invalid(`${path}.${k}`, `a key of 1–${Limits.maxAttributeKeyLength} characters`);
    if (typeof val !== 'string' || val.length > Limits.maxAttributeValueLength) throw invalid(`${path}.${k}`, `a string of at most ${Limits.maxAttributeValueLength} characters`);
    out[k] = val;
  }
  return out;
}

/** Whether a decoded entry has no field but its body: the common case, checked without building paths. */
function onlyBody(o: Obj): boolean {
  for (const k in o) if (k !== 'body') return false;
  return true;
}

/**
 * A sendBatch entry that is a map of its body alone, as the frame decoded it (the decoder made it,
 * so nothing else holds it): kept as it is when the body is bytes, the field paths of an error
 * built only when there is one.
 */
function plainEntry(o: Obj, i: number, maxBytes: number): SendEntry {
  const v = o.body;
  if (!(v instanceof Uint8Array) || v.byteLength === 0 || v.byteLength > maxBytes) return sendEntry(o, `entries.${i}`, maxBytes);
  return o as unknown as SendEntry;
}

function sendEntry(o: Obj, path: string, maxBytes: number): SendEntry {
  const entry: SendEntry = { body: body(o, path === '' ? 'body' : `${path}.body`, maxBytes) };
  const delayMs = int(o, 'delayMs', 0, Limits.maxDelayMs, path === '' ? 'delayMs' : `${path}.delayMs`);
  if (delayMs !== undefined) entry.delayMs = delayMs;
  const attributes = messageAttributes(o, path === '' ? 'attributes' : `${path}.attributes`);
  if (attributes !== undefined) entry.attributes = attributes;
  const at = (f: string): string => (path === '' ? f : `${path}.${f}`);
  // ttlMs is checked against the queue's own retention by its actor; here only the absolute ceiling.
  const ttlMs = int(o, 'ttlMs', 1, Limits.maxRetentionMs, at('ttlMs'));
  if (ttlMs !== undefined) entry.ttlMs = ttlMs;
  const groupId = id(o, 'groupId', at('groupId'));
  if (groupId !== undefined) entry.groupId = groupId;
  const dedupId = id(o, 'dedupId', at('dedupId'));
  if (dedupId !== undefined) entry.dedupId = dedupId;
  const timestamp = int(o, 'timestamp', 0, Number.MAX_SAFE_INTEGER, at('timestamp'));
  if (timestamp !== undefined) entry.timestamp = timestamp;
  const producer = id(o, 'producer', at('producer'));
  if (producer !== undefined) entry.producer = producer;
  return entry;
}

/** groupId, dedupId, producer: 1..128 characters. */
function id(o: Obj, field: string, path: string): string | undefined {
  const v = str(o, field, path);
  if (v === undefined) return undefined;
  if (v.length === 0 || v.length > Limits.maxIdLength) throw invalid(path, `a string of 1–${Limits.maxIdLength} characters`);
  return v;
}

function requiredId(o: Obj, field: string): string {
  const v = id(o, field, field);
  if (v === undefined) throw missing(field);
  return v;
}

/** A stream position: 'earliest' | 'latest' | {offset} | {timestamp}. */
function position(v: unknown, field: string): StreamPosition {
  if (v === 'earliest' || v === 'latest') return v;
  if (isObj(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === 'offset') return { offset: requiredInt(v, 'offset', 0, Number.MAX_SAFE_INTEGER, `${field}.offset`) };
    if (keys.length === 1 && keys[0] === 'timestamp') return { timestamp: requiredInt(v, 'timestamp', 0, Number.MAX_SAFE_INTEGER, `${field}.timestamp`) };
  }
  throw invalid(field, "'earliest', 'latest', {offset} or {timestamp}");
}

function bool(o: Obj, field: string): boolean | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(field, 'true or false');
  return v;
}

function list(o: Obj, field: string): unknown[] {
  const v = o[field];
  if (v === undefined || v === null) throw missing(field);
  if (!Array.isArray(v)) throw invalid(field, 'an array');
  if (v.length === 0) throw new FerryError(ErrorCodes.EmptyBatch, `${field} must have at least one entry`, { field });
  if (v.length > Limits.maxBatchEntries) {
    throw new FerryError(ErrorCodes.BatchTooLarge, `${field} has ${v.length} entries; at most ${Limits.maxBatchEntries}`, { field });
  }
  return v;
}

/**
 * deleteReceipts' receipts: one byte string, receipts of Limits.receiptChars bytes back to back, as
 * many as a batch may hold. Whether each is a receipt of the queue is its actor's check (per entry).
 * The bytes are a view into the client's whole WebSocket message; one that is a small part of it is
 * copied, so that postMessage does not clone the whole message to the shard.
 */
function packedReceipts(o: Obj, field: string): Uint8Array {
  const v = o[field];
  if (v === undefined || v === null) throw missing(field);
  const size = Limits.receiptChars;
  if (!(v instanceof Uint8Array)) throw invalid(field, `a byte string of receipts, ${size} bytes each`);
  if (v.byteLength === 0) throw new FerryError(ErrorCodes.EmptyBatch, `${field} must hold at least one receipt`, { field });
  if (v.byteLength % size !== 0) throw invalid(field, `a byte string of receipts, ${size} bytes each (got ${v.byteLength} bytes)`);
  const n = v.byteLength / size;
  if (n > Limits.maxBatchEntries) {
    throw new FerryError(ErrorCodes.BatchTooLarge, `${field} holds ${n} receipts; at most ${Limits.maxBatchEntries}`, { field });
  }
  return v.buffer.byteLength > 2 * v.byteLength ? new Uint8Array(v) : v; // a copy (Buffer.slice would be a view)
}

type Validator<O extends OpName> = (a: Obj, maxBody: number) => OpArgs<O>;

/**
 * A queue's maxMessageBytes may not exceed the broker's own ceiling (--max-message-bytes): bodies
 * over the ceiling are refused before they reach the queue, so a higher queue limit would promise
 * what the broker does not deliver.
 */
function withinBrokerCeiling(attributes: Partial<QueueAttributes>, maxBody: number): Partial<QueueAttributes> {
  const wanted = attributes.maxMessageBytes;
  if (wanted !== undefined && wanted > maxBody) {
    throw new FerryError(ErrorCodes.ValueOutOfRange, `attributes.maxMessageBytes must be from 1 to ${maxBody} (this broker's --max-message-bytes), got ${wanted}`, { field: 'attributes.maxMessageBytes' });
  }
  return attributes;
}

const validators: { [O in OpName]: Validator<O> } = {
  createQueue: (a, maxBody) => {
    const out: OpArgs<'createQueue'> = { queue: queueName(a) };
    if (a.attributes !== undefined && a.attributes !== null) out.attributes = withinBrokerCeiling(queueAttributes(a.attributes), maxBody);
    if (a.acks !== undefined && a.acks !== null) {
      if (!(ACKS_POLICIES as readonly unknown[]).includes(a.acks)) throw invalid('acks', `one of ${ACKS_POLICIES.join(', ')}`);
      out.acks = a.acks as AcksPolicy;
    }
    if (a.partitioning !== undefined && a.partitioning !== null) {
      out.partitioning = partitioningArg(a.partitioning);
      const conflict = partitioningConflict(out.attributes);
      if (conflict !== undefined) throw conflict;
    }
    return out;
  },
  deleteQueue: (a) => ({ queue: queueName(a) }),
  listQueues: (a) => {
    const out: OpArgs<'listQueues'> = {};
    const prefix = str(a, 'prefix');
    const after = str(a, 'after');
    const limit = int(a, 'limit', 1, Limits.maxListLimit);
    if (prefix !== undefined) out.prefix = prefix;
    if (after !== undefined) out.after = after;
    if (limit !== undefined) out.limit = limit;
    return out;
  },
  getQueueAttributes: (a) => ({ queue: queueName(a) }),
  setQueueAttributes: (a, maxBody) => {
    if (a.attributes === undefined || a.attributes === null) throw missing('attributes');
    return { queue: queueName(a), attributes: withinBrokerCeiling(queueAttributes(a.attributes), maxBody) };
  },
  purgeQueue: (a) => ({ queue: queueName(a) }),
  send: (a, maxBody) => ({ queue: queueName(a), ...sendEntry(a, '', maxBody) }),
  sendBatch: (a, maxBody) => {
    const queue = queueName(a);
    let total = 0;
    // The decoded array is this frame's own: its entries are checked and replaced in place.
    const entries = list(a, 'entries') as SendEntry[];
    for (let i = 0; i < entries.length; i++) {
      const e: unknown = entries[i];
      if (!isObj(e)) throw invalid(`entries.${i}`, 'a map');
      const entry = onlyBody(e) ? plainEntry(e, i, maxBody) : sendEntry(e, `entries.${i}`, maxBody);
      entries[i] = entry;
      total += entry.body.byteLength;
    }
    if (total > Limits.maxBatchBytes) {
      throw new FerryError(ErrorCodes.BatchTooLarge, `entries carry ${total} body bytes; at most ${Limits.maxBatchBytes}`, { field: 'entries' });
    }
    return { queue, entries };
  },
  receive: (a) => {
    const out: OpArgs<'receive'> = { queue: queueName(a) };
    const max = int(a, 'max', 1, Limits.maxReceive);
    const visibilityMs = int(a, 'visibilityMs', 0, Limits.maxVisibilityMs);
    const waitMs = int(a, 'waitMs', 0, Limits.maxWaitMs);
    if (max !== undefined) out.max = max;
    if (visibilityMs !== undefined) out.visibilityMs = visibilityMs;
    if (waitMs !== undefined) out.waitMs = waitMs;
    const group = id(a, 'group', 'group');
    if (group !== undefined) out.group = group;
    return out;
  },
  delete: (a) => ({ queue: queueName(a), receipt: requiredStr(a, 'receipt') }),
  deleteBatch: (a) => ({
    queue: queueName(a),
    receipts: list(a, 'receipts').map((r, i) => {
      if (typeof r !== 'string') throw invalid(`receipts.${i}`, 'a string');
      return r;
    }),
  }),
  deleteReceipts: (a) => ({ queue: queueName(a), receipts: packedReceipts(a, 'receipts') }),
  changeVisibility: (a) => ({
    queue: queueName(a), receipt: requiredStr(a, 'receipt'), visibilityMs: requiredInt(a, 'visibilityMs', 0, Limits.maxVisibilityMs),
  }),
  nack: (a) => {
    const out: OpArgs<'nack'> = { queue: queueName(a), receipt: requiredStr(a, 'receipt') };
    const delayMs = int(a, 'delayMs', 0, Limits.maxDelayMs);
    if (delayMs !== undefined) out.delayMs = delayMs;
    const requeue = bool(a, 'requeue');
    if (requeue !== undefined) out.requeue = requeue;
    if (requeue === false && delayMs !== undefined) throw invalid('delayMs', 'absent when requeue is false');
    return out;
  },
  subscribe: (a) => {
    const out: OpArgs<'subscribe'> = { queue: queueName(a), credit: requiredInt(a, 'credit', 0, Limits.maxCredit) };
    const visibilityMs = int(a, 'visibilityMs', 0, Limits.maxVisibilityMs);
    if (visibilityMs !== undefined) out.visibilityMs = visibilityMs;
    const group = id(a, 'group', 'group');
    if (group !== undefined) out.group = group;
    return out;
  },
  credit: (a) => ({ sub: requiredInt(a, 'sub', 0, Number.MAX_SAFE_INTEGER), credit: requiredInt(a, 'credit', 1, Limits.maxCredit) }),
  unsubscribe: (a) => ({ sub: requiredInt(a, 'sub', 0, Number.MAX_SAFE_INTEGER) }),
  startRedrive: (a) => {
    const out: OpArgs<'startRedrive'> = { queue: queueName(a) };
    if (a.target !== undefined && a.target !== null) out.target = queueName(a, 'target');
    const max = int(a, 'max', 1, Number.MAX_SAFE_INTEGER);
    if (max !== undefined) out.max = max;
    const ratePerSec = int(a, 'ratePerSec', 1, Limits.maxRedriveRate);
    if (ratePerSec !== undefined) out.ratePerSec = ratePerSec;
    return out;
  },
  listRedrives: () => ({}),
  createGroup: (a) => {
    const out: OpArgs<'createGroup'> = { queue: queueName(a), group: requiredId(a, 'group') };
    if (a.start !== undefined && a.start !== null) out.start = position(a.start, 'start');
    return out;
  },
  deleteGroup: (a) => ({ queue: queueName(a), group: requiredId(a, 'group') }),
  listGroups: (a) => ({ queue: queueName(a) }),
  seek: (a) => {
    if (a.to === undefined || a.to === null) throw missing('to');
    return { queue: queueName(a), group: requiredId(a, 'group'), to: position(a.to, 'to') };
  },
  cancelRedrive: (a) => ({ task: requiredStr(a, 'task') }),
  moveQueue: (a) => ({ queue: queueName(a), to: nodeId(a, 'to') }),
  drainNode: (a) => ({ node: nodeId(a, 'node') }),
};

export type ValidRequest = { [O in OpName]: { id: number; op: O; args: OpArgs<O> } }[OpName];

/**
 * Checks one decoded frame. `maxBodyBytes` is the broker-wide ceiling; the queue's own limit is
 * checked by its actor. Throws InvalidRequest.
 */
/** The queue a valid request names, if any (metrics count its messages under it). */
export function queueOf(req: ValidRequest): string | undefined {
  return 'queue' in req.args ? req.args.queue : undefined;
}

export function validateRequest(frame: unknown, maxBodyBytes: number): ValidRequest {
  if (!isObj(frame)) throw new InvalidRequest(null, new FerryError(ErrorCodes.BadFrame, 'a request frame must be a map {id, op, args}'));
  const id = frame.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
    throw new InvalidRequest(null, new FerryError(ErrorCodes.BadFrame, 'id must be a non-negative integer', { field: 'id' }));
  }
  const op = frame.op;
  if (op === undefined || op === null) throw new InvalidRequest(id, missing('op'));
  if (typeof op !== 'string') throw new InvalidRequest(id, invalid('op', 'a string naming an operation'));
  if (!isOpName(op)) throw new InvalidRequest(id, new FerryError(ErrorCodes.UnknownOp, `unknown op ${JSON.stringify(op.slice(0, 64))}`, { field: 'op' }));
  const args = frame.args ?? {};
  if (!isObj(args)) throw new InvalidRequest(id, invalid('args', 'a map'));
  try {
    return { id, op, args: (validators[op] as Validator<OpName>)(args, maxBodyBytes) } as ValidRequest;
  } catch (err) {
    if (err instanceof FerryError) throw new InvalidRequest(id, err);
    throw err;
  }
}
