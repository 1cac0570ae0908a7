/** A message as a QueueActor holds it in memory, shared by the actor and its policy modules. */
import type { MessageAttributes } from '../protocol/ops.js';
import type { MessageExtra } from '../storage/records.js';
import type { HeldLeases } from './held-leases.js';

export const enum State {
  /** Deliverable now (subject to the delivery order: strict groups deliver their head only). */
  Visible = 0,
  Leased = 1,
  /** Waiting for its delay to run out. */
  Delayed = 2,
  /** Removed (deleted, expired, dead-lettered, purged): a stale slot anywhere is skipped. */
  Gone = 3,
  /** Held by the ordering window until its (timestamp, producer, seq) slot is released. */
  Held = 4,
}

/** Anything that can hold leases: a push subscription. */
export interface LeaseHolder {
  leases: HeldLeases;
}

/**
 * Msg.id of a message whose id is the one derived from its sequence (message-id.ts) unless its
 * stored record, not read yet, names another (a record of an earlier version). Written as bytes
 * from the sequence when it is pushed; made a string only where one is needed.
 */
export const DERIVED_ID = '';

export interface Msg {
  seq: number;
  /** DERIVED_ID, or the id. */
  id: string;
  sentAt: number;
  size: number;
  /** Undefined when the shard's body cache was full: read from the store on delivery. */
  body: Uint8Array | undefined;
  attributes: MessageAttributes | undefined;
  receiveCount: number;
  firstReceivedAt: number;
  state: State;
  /** Lease end (Leased) or due time (Delayed). */
  until: number;
  /** Not deliverable after this time (min of ttl and the queue's retention). */
  expiresAt: number;
  /** The group it belongs to ('' when the send gave none). */
  group: string;
  /** Optional stored fields: ttlMs, groupId, dedupKey, timestamp, producer, late, deadLetter. */
  extra: MessageExtra | undefined;
  /** The push subscription holding the lease, if a push delivered it. */
  holder: LeaseHolder | undefined;
}
