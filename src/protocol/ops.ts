/**
 * The operations of the Ferry WebSocket protocol: their names, argument and result shapes.
 * The wire framing is in frames.ts; validation of arguments in validate.ts; prose in docs/protocol.md.
 * Durations on the wire are milliseconds and say so in their names (`visibilityMs`).
 */

/** Settable attributes of a queue. Every field is optional on the wire; defaults fill the rest. */
export interface QueueAttributes {
  /** Lease length of a received message unless the receive says otherwise. Default 30 s. */
  visibilityMs: number;
  /** Largest accepted body. Default 256 KiB, at most 1 MiB. */
  maxMessageBytes: number;
  /** Default long-poll wait of a receive that gives none. Default 0. */
  receiveWaitMs: number;
  /** Default delivery delay of a send that gives none. Default 0. */
  delayMs: number;
}

export const DEFAULT_QUEUE_ATTRIBUTES: Readonly<QueueAttributes> = Object.freeze({
  visibilityMs: 30_000,
  maxMessageBytes: 256 * 1024,
  receiveWaitMs: 0,
  delayMs: 0,
});

/** Counts shown by getQueueAttributes and `ferry queue stats`. */
export interface QueueStats {
  /** Messages that a receive would get now. */
  visible: number;
  /** Messages received and not yet deleted, inside their lease. */
  leased: number;
  /** Messages whose delay has not run out. */
  delayed: number;
  /** Age of the oldest message in the queue, ms (0 when empty). */
  oldestAgeMs: number;
  /** Bytes of bodies stored. */
  bytes: number;
}

/** User metadata on a message: string keys, string values. */
export type MessageAttributes = Record<string, string>;

export interface SendEntry {
  body: Uint8Array;
  delayMs?: number;
  attributes?: MessageAttributes;
}

export interface SendResult {
  messageId: string;
  seq: number;
}

/** A message as a consumer sees it (from receive or a push). */
export interface DeliveredMessage {
  messageId: string;
  /** Opaque; names this delivery. Delete, changeVisibility and nack take it. */
  receipt: string;
  body: Uint8Array;
  attributes?: MessageAttributes;
  /** Position in the queue's log. */
  seq: number;
  /** How many times it has been delivered, this delivery included. */
  receiveCount: number;
  /** When the broker accepted it, ms since the epoch. */
  sentAt: number;
  /** When it was first delivered, ms since the epoch. */
  firstReceivedAt: number;
}

/**
 * Cluster mode: how many replicas must hold a write before it is acknowledged — the leader only,
 * a majority of the replica set (the default), or every live replica (docs/cluster.md). A single
 * node ignores it: there a write is acknowledged once fsynced on that node.
 */
export type AcksPolicy = 'leader' | 'quorum' | 'all';

export const ACKS_POLICIES: readonly AcksPolicy[] = ['leader', 'quorum', 'all'];

/** A per-entry outcome of a batch call. */
export type BatchEntryResult<T> = { ok: T } | { error: import('./errors.js').WireError };

/** Each op: its argument type and its result type. */
export interface Ops {
  createQueue: { args: { queue: string; attributes?: Partial<QueueAttributes>; acks?: AcksPolicy }; result: { queue: string; created: boolean; attributes: QueueAttributes } };
  deleteQueue: { args: { queue: string }; result: { deleted: true } };
  listQueues: { args: { prefix?: string; limit?: number; after?: string }; result: { queues: string[]; next?: string } };
  getQueueAttributes: { args: { queue: string }; result: { queue: string; attributes: QueueAttributes; stats: QueueStats; createdAt: number } };
  setQueueAttributes: { args: { queue: string; attributes: Partial<QueueAttributes> }; result: { attributes: QueueAttributes } };
  purgeQueue: { args: { queue: string }; result: { purged: number } };
  send: { args: { queue: string } & SendEntry; result: SendResult };
  sendBatch: { args: { queue: string; entries: SendEntry[] }; result: { results: BatchEntryResult<SendResult>[] } };
  receive: { args: { queue: string; max?: number; visibilityMs?: number; waitMs?: number }; result: { messages: DeliveredMessage[] } };
  delete: { args: { queue: string; receipt: string }; result: { deleted: boolean } };
  deleteBatch: { args: { queue: string; receipts: string[] }; result: { results: BatchEntryResult<{ deleted: boolean }>[] } };
  changeVisibility: { args: { queue: string; receipt: string; visibilityMs: number }; result: { visibleAt: number } };
  nack: { args: { queue: string; receipt: string; delayMs?: number }; result: { visibleAt: number } };
  subscribe: { args: { queue: string; credit: number; visibilityMs?: number }; result: { sub: number } };
  credit: { args: { sub: number; credit: number }; result: { credit: number } };
  unsubscribe: { args: { sub: number }; result: { unsubscribed: true } };
}

export type OpName = keyof Ops;
export type OpArgs<O extends OpName> = Ops[O]['args'];
export type OpResult<O extends OpName> = Ops[O]['result'];

export const OP_NAMES: readonly OpName[] = [
  'createQueue', 'deleteQueue', 'listQueues', 'getQueueAttributes', 'setQueueAttributes', 'purgeQueue',
  'send', 'sendBatch', 'receive', 'delete', 'deleteBatch', 'changeVisibility', 'nack',
  'subscribe', 'credit', 'unsubscribe',
];

export function isOpName(op: unknown): op is OpName {
  return typeof op === 'string' && (OP_NAMES as readonly string[]).includes(op);
}
