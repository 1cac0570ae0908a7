/**
 * Messages between the main thread and a shard worker. Both sides post arrays: everything one side
 * produced in one event-loop turn goes in one postMessage (its cost is per message, not per byte).
 * `r` numbers a request on the main thread; the worker's answer carries it back.
 */
import type { WireError } from '../protocol/errors.js';
import type { OpArgs, OpName, QueueAttributes, QueueStats, SendEntry } from '../protocol/ops.js';
import type { LogEntry, ReplicaMark } from './replica-log.js';
import type { ForwardId } from '../storage/keys.js';
import type { ForwardRecord } from '../storage/records.js';
import type { PackedSends } from './packing.js';
import type { InsertItem } from './queue-actor.js';

/** Ops a shard runs for a queue it owns (the rest are the main thread's: listing, redrive tasks). */
export type QueueOp = Exclude<OpName, 'listQueues' | 'startRedrive' | 'listRedrives' | 'cancelRedrive' | 'moveQueue' | 'drainNode'>;

export type QueueRequest =
  | { [O in QueueOp]: { op: O; args: OpArgs<O> } }[QueueOp]
  /** Internal: messages moved here from another queue (dead letters, redrive, unroutable sends). */
  | { op: 'insert'; args: { items: InsertItem[] } }
  /** Internal: one slice of a redrive task. */
  | { op: 'redriveBatch'; args: { max: number; target?: string } }
  /** Internal (partitioned queues): store the entries only if the queue holds a message of strict group `group`. */
  | { op: 'sendIfGroup'; args: { group: string; entries: SendEntry[] } }
  /** Internal (partitioned queues): the strict groups the queue holds messages of. */
  | { op: 'heldGroups'; args: Record<string, never> };

export type ToShard =
  /**
   * A request for queue `qid`; `session` is the client connection; `sub` is set on subscribe.
   * Sends and sendBatches never travel so: the pool packs them into `sends` (packing.ts).
   */
  | { t: 'req'; r: number; qid: string; session: number; sub?: number; req: QueueRequest }
  /** A turn's send and sendBatch requests, in columns (packing.ts). */
  | PackedSends
  /** Create a queue placed on this shard; attributes not given take their defaults. */
  | { t: 'create'; r: number; id: string; name: string; attributes: Partial<QueueAttributes>; createdAt: number; epoch?: number }
  /** A client connection closed: drop its long polls and subscriptions, release their leases. */
  | { t: 'closeSession'; session: number }
  /** Queue stats for /metrics. */
  | { t: 'stats'; r: number }
  /** Cluster mode: run the queue's actor here as the leader of `epoch` (recovered from this store). */
  | { t: 'lead'; r: number; qid: string; epoch: number }
  /** Cluster mode: stop running the queue's actor; this store keeps following its leader's log. */
  | { t: 'follow'; r: number; qid: string }
  /** Cluster mode, follower: apply one entry of the leader's log. */
  | { t: 'apply'; r: number; entry: LogEntry }
  /** Cluster mode, follower: replace this store's copy of a queue with the leader's snapshot. */
  | { t: 'install'; r: number; qid: string; rows: Array<[Uint8Array, Uint8Array]>; mark: ReplicaMark }
  /** Cluster mode, leader: a snapshot of one queue's keys. */
  | { t: 'snapshot'; r: number; qid: string }
  /**
   * Cluster mode: this store's copy of the queue goes: the queue was deleted (drop its actor, if
   * any, and every key of the copy), or it `moved` away from this node (replica-log.ts dropCopy).
   */
  | { t: 'discard'; r: number; qid: string; moved?: boolean }
  /** Cluster mode: the replication mark of a queue in this store. */
  | { t: 'mark'; r: number; qid: string }
  /** The target of forward f committed it: drop the outbox record. */
  | { t: 'forwarded'; f: ForwardId }
  /** The source of forward `origin` dropped its record: queue qid may forget the marker. */
  | { t: 'forget'; qid: string; origin: ForwardId }
  /** Fault injection (tests): die at once, as a crash would. */
  | { t: 'crash' }
  /** Finish the turn, close RocksDB, exit. */
  | { t: 'close' };

export interface QueueInfo {
  name: string;
  id: string;
  attributes: QueueAttributes;
}

export interface ShardQueueStats extends QueueStats {
  name: string;
}

export type FromShard =
  | { t: 'ready'; queues: QueueInfo[] }
  /** An answer (batch replies and received messages travel in `replies` instead). */
  | { t: 'reply'; r: number; result: unknown }
  /**
   * Answers encoded as CBOR (protocol/encoded.ts): batch replies and received messages of one
   * turn, reply i in bytes [ends[i-1], ends[i]) answering request rs[i], with counts[i] (ok
   * entries or messages) for metrics.
   */
  | { t: 'replies'; bytes: Uint8Array; rs: Float64Array; ends: Uint32Array; counts: Uint32Array }
  | { t: 'fail'; r: number; error: WireError }
  /** A push; its messages travel as one CBOR array (protocol/encoded.ts). */
  | { t: 'push'; session: number; sub: number; encoded: Uint8Array; count: number }
  | { t: 'subEnd'; session: number; sub: number; error: WireError }
  | { t: 'stats'; r: number; queues: ShardQueueStats[] }
  /** Cluster mode: log entries of the batch just committed; posted before that turn's replies. */
  | { t: 'log'; entries: LogEntry[] }
  /** An outbox record, durable here, to carry to the queue named in it. */
  | { t: 'forward'; f: ForwardId; record: ForwardRecord }
  /**
   * The outbox record f is deleted (durably): the target may forget its marker. `drained`: f's
   * queue was deleted and this was the last of its outbox records here (cluster mode).
   */
  | { t: 'forwardDone'; f: ForwardId; drained?: true }
  | { t: 'closed' };

/** What the main thread passes a shard worker at start. */
export interface ShardWorkerData {
  shard: number;
  dir: string;
  bodyCacheBytes: number;
  /**
   * Cluster mode: queues found on disk get no actor until `lead` (a queue here may be a replica),
   * and every commit is tapped for the replication log.
   */
  replicated?: boolean;
}
