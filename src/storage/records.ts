/** The records a shard stores (see keys.ts for where). Shared by storage and the actors. */
import type { ForwardId } from './keys.js';
import type { DeadLetterInfo, MessageAttributes, QueueAttributes } from '../protocol/ops.js';

export interface QueueRecord {
  /** 16 hex digits; see keys.ts. */
  id: string;
  name: string;
  attributes: QueueAttributes;
  createdAt: number;
  /** Messages with a lower sequence number were purged (their keys are cleared lazily). */
  purgedBelow: number;
}

export interface StoredMessage {
  /** Only in records of older versions (a random UUID); otherwise derived from (queue id, seq): message-id.ts. */
  id?: string;
  sentAt: number;
  /** Not deliverable before this time (delay). */
  visibleAt: number;
  body: Uint8Array;
  attributes?: MessageAttributes;
  /** Per-message time to live (expiry = sentAt + min(ttlMs, queue retention)). */
  ttlMs?: number;
  groupId?: string;
  /** The dedup id it was accepted under (kept so recovery can rebuild the window). */
  dedupKey?: string;
  timestamp?: number;
  producer?: string;
  late?: true;
  /** Set on a message that was dead-lettered into this queue. */
  deadLetter?: DeadLetterInfo;
}

/** The part of a message that travels to another queue. */
export interface ForwardedMessage {
  /** The message id in the queue it leaves. */
  id: string;
  body: Uint8Array;
  attributes?: MessageAttributes;
  groupId?: string;
  /** Present when dead-lettered; absent when redriven (the message starts a fresh life). */
  deadLetter?: DeadLetterInfo;
}

/** 'F' record: a message on its way from one queue to another (see keys.ts). */
export interface ForwardRecord {
  /** Name of the queue it goes to. */
  target: string;
  message: ForwardedMessage;
}

/** 'G' record: a stream consumer group. */
export interface StreamGroupRecord {
  /** Random id carried in the group's receipts. */
  gid: number;
  committed: number;
  createdAt: number;
}

/** 'E' record: a dedup id accepted at `at`, answered with the first copy's id and seq. */
export interface DedupRecord {
  messageId: string;
  seq: number;
  at: number;
}

export interface DeliveryRecord {
  receiveCount: number;
  firstReceivedAt: number;
}

/** A message as recovery finds it. */
export interface RecoveredMessage {
  seq: number;
  /** Only when the record stored one (older versions); otherwise messageIdOf(queue id, seq). */
  id?: string;
  sentAt: number;
  visibleAt: number;
  /** Body length in bytes (known even when the body itself is not at hand). */
  size: number;
  /**
   * The body, or undefined when it is not at hand (read it from the store on delivery). As the
   * store hands it to a RecoveredMessageSink it is a view into the row RocksDB returned, valid
   * only during the call: whoever keeps it copies it.
   */
  body: Uint8Array | undefined;
  attributes?: MessageAttributes;
  delivery: DeliveryRecord | undefined;
  /** The stored record's optional fields (ttlMs, groupId, ...), as stored. */
  extra?: MessageExtra;
}

/**
 * Where recovery hands one queue's stored messages, one at a time in sequence order, so that a
 * backlog of millions is never a list of millions of objects (shard-host.ts binds it to the
 * queue's actor, which keeps a plain message as a byte or so in its backlog).
 */
export interface RecoveredMessageSink {
  message(m: RecoveredMessage): void;
  /** Every message of the queue was handed over. */
  end(): void;
}

/** The optional per-message fields of a StoredMessage. */
export type MessageExtra = Omit<StoredMessage, 'id' | 'sentAt' | 'visibleAt' | 'body' | 'attributes'>;

export interface RecoveredQueue {
  record: QueueRecord;
  nextSeq: number;
  /** Every message below it may have been delivered ('S' record; 0 when never written). */
  deliveredBelow: number;
  /** Every message below it left the queue ('S' record; 0 when never written): recovery skips their keys. */
  goneBelow: number;
  /** Filled only when recovery was given no sink (tests, tools): every message, bodies copied. */
  messages: RecoveredMessage[];
  /** Forwards already accepted ('X' keys), as forwardIdString(origin). */
  markers: string[];
  /** Dedup ids seen ('E' keys). */
  dedup: Array<{ id: string } & DedupRecord>;
  /** Stream consumer groups ('G' keys). */
  groups: Array<{ name: string } & StreamGroupRecord>;
  /** Stream consumer groups' receive counts ('C' keys). */
  groupDeliveries: GroupDelivery[];
}

/** 'C' record: a stream consumer group's receive count of one message (see keys.ts). */
export interface GroupDeliveryRecord {
  receiveCount: number;
  firstReceivedAt: number;
  /** The group dead-lettered the message: it counts as acknowledged for that group. */
  done?: true;
}

export type GroupDelivery = { gid: number; seq: number } & GroupDeliveryRecord;

/** A forward still in a shard's outbox at recovery (or waiting to be sent on). */
export type PendingForward = ForwardId;
