/**
 * What a QueueActor needs from the world, as small interfaces (BullMQ style: depend on a minimal
 * port, not on the big class behind it). The shard host binds them to RocksDB and to the thread
 * boundary; unit tests bind them to memory.
 */
import type { WireError } from '../protocol/errors.js';
import type { Deliveries } from './deliveries.js';
import type { ForwardId } from '../storage/keys.js';
import type { DedupRecord, DeliveryRecord, ForwardRecord, GroupDeliveryRecord, QueueRecord, StoredMessage, StreamGroupRecord } from '../storage/records.js';

/** One partition's view of its shard's store. Writes are staged; the host commits them per turn. */
export interface PartitionStore {
  putQueue(record: QueueRecord): void;
  /**
   * The sequence high-water mark, the delivered mark (every message below it may have been
   * delivered) and the gone mark (every message below it left the queue: its records are garbage,
   * skipped by recovery and cleared by the store in ranges).
   */
  putNextSeq(nextSeq: number, deliveredBelow: number, goneBelow: number): void;
  putMessage(seq: number, message: StoredMessage): void;
  putDelivery(seq: number, delivery: DeliveryRecord): void;
  deleteMessage(seq: number): void;
  deleteDelivery(seq: number): void;
  /** Drops every stored message below `seq` (purge; the caller stages purgedBelow). */
  clearBelow(seq: number): void;
  /** Drops the queue and everything in it. */
  removeQueue(): void;
  /**
   * Stages an outbox record: message `seq` of this queue leaves for another queue. The host sends
   * it on after the commit and drops it once the target's commit is acknowledged (dead-letter.ts).
   * `gid`: the copy that stream consumer group dead-lettered (one move per group and message).
   */
  putForward(seq: number, record: ForwardRecord, gid?: number): void;
  /** Marks forward `origin` as accepted here, so a replay of it is ignored. */
  putMarker(origin: ForwardId): void;
  deleteMarker(origin: ForwardId): void;
  putDedup(id: string, record: DedupRecord): void;
  deleteDedup(id: string): void;
  putGroup(name: string, record: StreamGroupRecord): void;
  deleteGroup(name: string): void;
  /** A stream group's receive count of message `seq` (so maxReceives survives a restart). */
  putGroupDelivery(gid: number, seq: number, record: GroupDeliveryRecord): void;
  deleteGroupDelivery(gid: number, seq: number): void;
  /** Drops all of a group's receive counts (group deleted, seek, purge). */
  clearGroupDeliveries(gid: number): void;
  /** Synchronous read of messages whose bodies are not in memory. */
  readMessages(seqs: readonly number[]): Array<StoredMessage | undefined>;
  /**
   * Whether message `seq` is stored in the batch still open (staged, not yet handed to RocksDB):
   * whatever else is staged now reaches the disk with it, or is lost with it.
   */
  unwritten(seq: number): boolean;
  /** The number of the batch that what is staged now will be written in (batches count up from 1). */
  openBatch(): number;
  /** Whether batch `n` is durable (written and synced; every earlier batch is then durable too). */
  isDurable(n: number): boolean;
}

/**
 * Where an actor's answers go. The host holds them until the turn's writes are durable, so a
 * reply never reports something a crash could still take back (a push may leave earlier: see push).
 */
export interface ActorOutbox<Ref> {
  reply(ref: Ref, result: unknown): void;
  fail(ref: Ref, error: WireError): void;
  /** The reply to a subscribe: it leaves with the turn, before the subscription's first push. */
  subscribed(ref: Ref, sub: number): void;
  /**
   * The messages of one push: read them within this call (deliveries.ts). With `waitForWrite` the
   * push is held like a reply until the turn's write is durable. Without, it leaves with its turn
   * (docs/protocol.md, "Delivery guarantees"): the actor says so only when no crash can leave a
   * message of the push without its delivery counted: the messages are themselves in the open
   * batch (they and what the delivery wrote about them reach the disk together or are lost
   * together), or, in a queue that keeps no receive count per message, they are below a delivered
   * mark that is durable already.
   */
  push(session: number, sub: number, messages: Deliveries, waitForWrite: boolean): void;
  endSubscription(session: number, sub: number, error: WireError): void;
}

/**
 * A body kept in memory costs more than its bytes: the view on it, and the full message object it
 * keeps its message in (a message without a cached body may live in the compact backlog instead,
 * backlog.ts). Measured with a heap snapshot at 256-byte bodies: about 370 bytes a message.
 */
export const CACHED_BODY_OVERHEAD = 384;

/**
 * A body kept for a message of the compact backlog (body-queue.ts): packed in a chunk after an
 * 8-byte header (its size and sequence), plus room for a chunk's unused tail.
 */
export const QUEUED_BODY_OVERHEAD = 32;

/**
 * Bodies kept in memory across all actors of a shard; past the budget they are read from disk.
 * The budget counts each body's overhead too, so it bounds the memory the cache really holds.
 */
export class BodyCache {
  bytes = 0;
  constructor(readonly budget: number) {}

  /** Whether a body of this size may be kept; accounts for it if so. */
  admit(size: number, overhead = CACHED_BODY_OVERHEAD): boolean {
    const cost = size + overhead;
    if (this.bytes + cost > this.budget) return false;
    this.bytes += cost;
    return true;
  }

  /**
   * A body that is in memory already and stays there (a backlog body taken out for a delivery
   * keeps its message a full object now): counted even past the budget, which then refuses new
   * bodies until enough are released. Released as any body kept in a message (`release`).
   */
  charge(size: number): void {
    this.bytes += size + CACHED_BODY_OVERHEAD;
  }

  release(size: number, overhead = CACHED_BODY_OVERHEAD): void {
    this.bytes -= size + overhead;
  }
}
