/**
 * The operations of the Ferry WebSocket protocol: their names, argument and result shapes.
 * The wire framing is in frames.ts; validation of arguments in validate.ts; prose in docs/protocol.md.
 * Durations on the wire are milliseconds and say so in their names (`visibilityMs`).
 */
import type { Partitioning } from './partitioning.js';

/** Where a queue's dead letters go (docs/queue-semantics.md, "Dead-letter queues"). */
export interface DeadLetterTarget {
  /** Name of the dead-letter queue; it must exist, must not be this queue, and must not lead back here. */
  queue: string;
  /** Deliveries without a delete after which a message is dead-lettered instead of delivered again. */
  maxReceives: number;
}

/** What a send does to a full queue (maxLength / maxBytes). */
export type OverflowPolicy = 'reject' | 'dropHead' | 'deadLetterNew';
export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['reject', 'dropHead', 'deadLetterNew'];

/** `relaxed`: no order promise (fair across groupIds). `strict`: FIFO per groupId, one in flight per group. */
export type Ordering = 'relaxed' | 'strict';
export const ORDERINGS: readonly Ordering[] = ['relaxed', 'strict'];

/** `queue`: delete on ack. `stream`: kept until retention; named consumer groups read it, each at its own position. */
export type QueueMode = 'queue' | 'stream';
export const QUEUE_MODES: readonly QueueMode[] = ['queue', 'stream'];

/** Settable attributes of a queue. Every field is optional on the wire; defaults fill the rest. */
export interface QueueAttributes {
  /** Lease length of a received message unless the receive says otherwise. Default 30 s. */
  visibilityMs: number;
  /** Largest accepted body. Default 256 KiB, at most 1 MiB. */
  maxMessageBytes: number;
  /** Default long-poll wait of a receive that gives none. Default 0. */
  receiveWaitMs: number;
  /** Default delivery delay of a send that gives none. Default 0, at most 15 min. */
  delayMs: number;
  /** How long a message is kept at most, from its acceptance. Default 4 days; 1 min to 14 days. */
  retentionMs: number;
  /** Dead-letter queue, or null for none. */
  deadLetter: DeadLetterTarget | null;
  /** Most messages the queue holds (every state counts); 0 = no limit. */
  maxLength: number;
  /** Most body bytes the queue holds; 0 = no limit. */
  maxBytes: number;
  /** What happens to a send that would pass maxLength or maxBytes. Default reject. */
  overflow: OverflowPolicy;
  /** Default relaxed. */
  ordering: Ordering;
  /** Sends with a dedupId (or body hash) seen within this window are not stored again. 0 = off; 5 min when strict. */
  dedupWindowMs: number;
  /** Use the SHA-256 of the body as the dedup id of a send that gives none. */
  contentDedup: boolean;
  /** Hold producer-timestamped messages this long and release them in (timestamp, producer, seq) order. 0 = off. */
  orderingWindowMs: number;
  /** Default queue. */
  mode: QueueMode;
}

export const DEFAULT_QUEUE_ATTRIBUTES: Readonly<QueueAttributes> = Object.freeze({
  visibilityMs: 30_000,
  maxMessageBytes: 256 * 1024,
  receiveWaitMs: 0,
  delayMs: 0,
  retentionMs: 4 * 24 * 60 * 60 * 1000,
  deadLetter: null,
  maxLength: 0,
  maxBytes: 0,
  overflow: 'reject' as OverflowPolicy,
  ordering: 'relaxed' as Ordering,
  dedupWindowMs: 0,
  contentDedup: false,
  orderingWindowMs: 0,
  mode: 'queue' as QueueMode,
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
  /** Messages of all states (what maxLength counts). */
  messages: number;
  /** Messages held by the ordering window, not yet released. */
  held: number;
  /** Counters since the shard started: expired, dead-lettered (moved out), dropped (overflow without a DLQ), late, duplicates. */
  expired: number;
  deadLettered: number;
  dropped: number;
  late: number;
  duplicates: number;
}

/** User metadata on a message: string keys, string values. */
export type MessageAttributes = Record<string, string>;

export interface SendEntry {
  body: Uint8Array;
  delayMs?: number;
  attributes?: MessageAttributes;
  /** Time to live from acceptance; at most the queue's retentionMs. */
  ttlMs?: number;
  /** Message group: the unit of FIFO (strict) and of fairness (relaxed). */
  groupId?: string;
  /** Deduplication id, inside the queue's dedupWindowMs. */
  dedupId?: string;
  /** Producer timestamp, ms since the epoch (ordering window). Default: the broker's acceptance time. */
  timestamp?: number;
  /** Producer name, the tie-break of equal timestamps (ordering window). */
  producer?: string;
}

export interface SendResult {
  messageId: string;
  seq: number;
  /** The send repeated a dedupId (or body) inside the dedup window: nothing new was stored; messageId/seq are the first copy's. */
  duplicate?: true;
  /** The queue was full with overflow deadLetterNew: the message went to the dead-letter queue. */
  deadLettered?: true;
}

/** Why a message was dead-lettered. */
export type DeadLetterReason = 'maxReceives' | 'expired' | 'overflow' | 'queueDeleted' | 'rejected' | 'noSuchQueue';

/** What a dead-lettered message carries about its first life. */
export interface DeadLetterInfo {
  reason: DeadLetterReason;
  sourceQueue: string;
  originalMessageId: string;
  receiveCount: number;
  /** When the source queue accepted it, ms since the epoch. */
  firstSentAt: number;
  deadLetteredAt: number;
  /** Stream mode: the consumer group that dead-lettered it (the message stays in the stream for the others). */
  group?: string;
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
  groupId?: string;
  /** Producer timestamp and name, when the send gave them. */
  timestamp?: number;
  producer?: string;
  /** Ordering window: the message arrived after its slot had been released. */
  late?: true;
  /** Set on a message in a dead-letter queue. */
  deadLetter?: DeadLetterInfo;
}

/** Where a stream consumer group starts or seeks to. */
export type StreamPosition = 'earliest' | 'latest' | { offset: number } | { timestamp: number };

/** A consumer group of a stream-mode queue. */
export interface StreamGroupInfo {
  group: string;
  /** Every message below this sequence was acknowledged by the group (what a restart resumes from). */
  committed: number;
  /** The next sequence the group reads for the first time. */
  position: number;
  /** Messages leased to the group's consumers now. */
  leased: number;
  /** Messages at or after `position` (not yet read by the group). */
  lag: number;
}

/**
 * nack: `visibleAt` when the message goes back to the queue; `deadLettered` when it went to the
 * dead-letter queue instead (requeue false, or maxReceives reached); `deleted` when requeue false
 * and the queue has no dead-letter queue.
 */
export interface NackResult {
  visibleAt?: number;
  deadLettered?: true;
  deleted?: true;
}

/** A redrive task as listRedrives shows it. */
export interface RedriveTask {
  task: string;
  /** The dead-letter queue being emptied. */
  queue: string;
  /** Destination; undefined = each message's source queue. */
  target?: string;
  state: 'running' | 'done' | 'cancelled' | 'failed';
  moved: number;
  /** Messages to move: the limit asked for, or the queue's count at start. */
  total: number;
  ratePerSec: number;
  startedAt: number;
  error?: string;
}

/**
 * Cluster mode: how many replicas must hold a write before it is acknowledged — the leader only,
 * a majority of the replica set (the default), or every live replica (docs/cluster.md). A single
 * node ignores it: there a write is acknowledged once fsynced on that node.
 */
export type AcksPolicy = 'leader' | 'quorum' | 'all';

export const ACKS_POLICIES: readonly AcksPolicy[] = ['leader', 'quorum', 'all'];

/** A queue's placement after a move (cluster mode, docs/cluster.md "Moving queues"). */
export interface QueuePlacement {
  queue: string;
  /** The node that leads the queue now. */
  leader: string;
  /** Grows by one at every change of leader or of replica set. */
  epoch: number;
  /** The nodes that hold a copy, the leader included. */
  replicas: string[];
}

/** drainNode: the node is draining; `remaining` queues still have a copy on it (0 = it may leave). */
export interface DrainStatus {
  node: string;
  remaining: number;
  /** The queues that still have a copy on the node (at most 100 names). */
  queues: string[];
}

/** A per-entry outcome of a batch call. */
export type BatchEntryResult<T> = { ok: T } | { error: import('./errors.js').WireError };

/**
 * deleteReceipts: what became of its receipts, counted. `deleted` removed a message (deleteBatch's
 * `{deleted: true}`), `gone` found it already gone (`{deleted: false}`), `errors` lists the refused
 * ones by index, in order (field `receipts.N`).
 */
export interface DeleteReceiptsResult {
  deleted: number;
  gone: number;
  errors: Array<{ index: number; error: import('./errors.js').WireError }>;
}

/** Each op: its argument type and its result type. */
export interface Ops {
  createQueue: { args: { queue: string; attributes?: Partial<QueueAttributes>; acks?: AcksPolicy; partitioning?: Partial<Partitioning> }; result: { queue: string; created: boolean; attributes: QueueAttributes } };
  deleteQueue: { args: { queue: string }; result: { deleted: true } };
  listQueues: { args: { prefix?: string; limit?: number; after?: string }; result: { queues: string[]; next?: string } };
  getQueueAttributes: { args: { queue: string }; result: { queue: string; attributes: QueueAttributes; stats: QueueStats; createdAt: number } };
  setQueueAttributes: { args: { queue: string; attributes: Partial<QueueAttributes> }; result: { attributes: QueueAttributes } };
  purgeQueue: { args: { queue: string }; result: { purged: number } };
  send: { args: { queue: string } & SendEntry; result: SendResult };
  sendBatch: { args: { queue: string; entries: SendEntry[] }; result: { results: BatchEntryResult<SendResult>[] } };
  receive: { args: { queue: string; max?: number; visibilityMs?: number; waitMs?: number; group?: string }; result: { messages: DeliveredMessage[] } };
  delete: { args: { queue: string; receipt: string }; result: { deleted: boolean } };
  deleteBatch: { args: { queue: string; receipts: string[] }; result: { results: BatchEntryResult<{ deleted: boolean }>[] } };
  /** deleteBatch with its receipts as one byte string (32 ASCII bytes each), answered in counts. */
  deleteReceipts: { args: { queue: string; receipts: Uint8Array }; result: DeleteReceiptsResult };
  changeVisibility: { args: { queue: string; receipt: string; visibilityMs: number }; result: { visibleAt: number } };
  nack: { args: { queue: string; receipt: string; delayMs?: number; requeue?: boolean }; result: NackResult };
  subscribe: { args: { queue: string; credit: number; visibilityMs?: number; group?: string }; result: { sub: number } };
  credit: { args: { sub: number; credit: number }; result: { credit: number } };
  unsubscribe: { args: { sub: number }; result: { unsubscribed: true } };
  createGroup: { args: { queue: string; group: string; start?: StreamPosition }; result: StreamGroupInfo };
  deleteGroup: { args: { queue: string; group: string }; result: { deleted: true } };
  listGroups: { args: { queue: string }; result: { groups: StreamGroupInfo[] } };
  seek: { args: { queue: string; group: string; to: StreamPosition }; result: StreamGroupInfo };
  startRedrive: { args: { queue: string; target?: string; max?: number; ratePerSec?: number }; result: RedriveTask };
  listRedrives: { args: Record<string, never>; result: { tasks: RedriveTask[] } };
  cancelRedrive: { args: { task: string }; result: RedriveTask };
  moveQueue: { args: { queue: string; to: string }; result: QueuePlacement };
  drainNode: { args: { node: string }; result: DrainStatus };
}

export type OpName = keyof Ops;
export type OpArgs<O extends OpName> = Ops[O]['args'];
export type OpResult<O extends OpName> = Ops[O]['result'];

export const OP_NAMES: readonly OpName[] = [
  'createQueue', 'deleteQueue', 'listQueues', 'getQueueAttributes', 'setQueueAttributes', 'purgeQueue',
  'send', 'sendBatch', 'receive', 'delete', 'deleteBatch', 'deleteReceipts', 'changeVisibility', 'nack',
  'subscribe', 'credit', 'unsubscribe', 'createGroup', 'deleteGroup', 'listGroups', 'seek', 'startRedrive', 'listRedrives', 'cancelRedrive',
  'moveQueue', 'drainNode',
];

export function isOpName(op: unknown): op is OpName {
  return typeof op === 'string' && (OP_NAMES as readonly string[]).includes(op);
}
