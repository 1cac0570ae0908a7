/** The records a shard stores (see keys.ts for where). Shared by storage and the actors. */
import type { MessageAttributes, QueueAttributes } from '../protocol/ops.js';

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
  id: string;
  sentAt: number;
  /** Not deliverable before this time (delay). */
  visibleAt: number;
  body: Uint8Array;
  attributes?: MessageAttributes;
}

export interface DeliveryRecord {
  receiveCount: number;
  firstReceivedAt: number;
}

/** A message as recovery finds it. The body is dropped when the shard's body cache is full. */
export interface RecoveredMessage {
  seq: number;
  id: string;
  sentAt: number;
  visibleAt: number;
  /** Body length in bytes (known even when the body itself was not kept in memory). */
  size: number;
  /** Undefined when the shard's body cache was full at recovery: read it from the store on delivery. */
  body: Uint8Array | undefined;
  attributes?: MessageAttributes;
  delivery: DeliveryRecord | undefined;
}

export interface RecoveredQueue {
  record: QueueRecord;
  nextSeq: number;
  messages: RecoveredMessage[];
}
