/**
 * Forwarder: the main thread's half of moving a message from one queue to another (dead-letter,
 * redrive) when the two may live on different shards, i.e. different worker threads with their
 * own RocksDB. The protocol (docs/queue-semantics.md, "Moving a message between queues"):
 *
 *   1. source shard: one synced batch deletes the message and writes outbox record F(qid, seq).
 *   2. source → main: `forward` (after that commit).
 *   3. main → target shard: `insert` with origin (qid, seq). The target, in one synced batch,
 *      stores the message and marker X(origin) — unless X(origin) exists (a replay): then nothing.
 *   4. target's answer (after its commit) → main → source: `forwarded`. Source deletes F.
 *   5. source → main (after that commit): `forwardDone` → main → target: `forget`. Target deletes X.
 *
 * A stream consumer group's dead letter is its own move: F, the origin and X also carry the group's
 * id (ForwardId.gid), since two groups may dead-letter the same message.
 *
 * A crash anywhere leaves F, and the source's recovery replays it (step 2); X makes the replay a
 * no-op if step 3 had committed. X is deleted only after F is gone for good, so no replay can
 * follow the forget. The message is durable in exactly one of: source queue, F, target queue.
 *
 * Targets that do not exist (yet), or shards that are restarting, are retried every second; the
 * record stays durable in the source's outbox meanwhile.
 *
 * Where the target lives is the MoveTargets port's business: the local shard that holds it
 * (single node, `LocalTargets` below), or the node that leads it (cluster mode:
 * cluster/cluster-moves.ts, which also waits for replication on both sides).
 */
import { forwardIdString, type ForwardId } from '../storage/keys.js';
import type { ForwardRecord } from '../storage/records.js';
import type { Answer, ShardPool } from './shard-pool.js';

export interface QueueLookup {
  /** Where a queue lives now, by name. */
  placement(name: string): { shard: number; id: string } | undefined;
}

/** What became of one attempt to store a moved message at its target. */
export type InsertOutcome<T> =
  /** The target holds it durably (or held it already: a replay); `target` is where to send `forget`. */
  | { stored: T }
  /** Not now (no such queue yet, a shard or node restarting): try again later. */
  | 'retry'
  /** This node no longer carries the move (cluster mode: it stopped leading the source). */
  | 'drop';

/** Step 3 and the end of step 5, wherever the target queue lives. */
export interface MoveTargets<T> {
  insert(f: ForwardId, record: ForwardRecord, done: (outcome: InsertOutcome<T>) => void): void;
  /** The source dropped its record for good: the target `target` may delete its marker of `origin`. */
  forget(target: T, origin: ForwardId): void;
  /** Cluster mode: deleted source queue `qid` has no outbox record left on this node. */
  drained?(qid: string): void;
}

interface Pending {
  sourceShard: number;
  f: ForwardId;
  record: ForwardRecord;
}

const RETRY_MS = 1000;

export class Forwarder<T> {
  readonly #pool: ShardPool;
  readonly #targets: MoveTargets<T>;
  /** Inserted and acknowledged to the source; waiting for the source's forwardDone. */
  readonly #acked = new Map<string, T>();
  #retry: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Moves delivered, and moves retried, since start (for tests and logs). */
  delivered = 0;
  retried = 0;

  constructor(pool: ShardPool, targets: MoveTargets<T>) {
    this.#pool = pool;
    this.#targets = targets;
  }

  /** Step 2: a source shard sent an outbox record. */
  forward(sourceShard: number, f: ForwardId, record: ForwardRecord): void {
    this.#attempt({ sourceShard, f, record });
  }

  /**
   * Step 5: the source dropped its record; the target may forget its marker. `drained`: the
   * source queue was deleted and this was its last record (cluster mode).
   */
  forwardDone(f: ForwardId, drained = false): void {
    const key = forwardIdString(f);
    const target = this.#acked.get(key);
    if (target !== undefined) {
      this.#acked.delete(key);
      this.#targets.forget(target, f);
    }
    if (drained) this.#targets.drained?.(f.qid);
  }

  /**
   * Cluster mode: this node stopped leading source queue `qid`; its moves are the new leader's now
   * (pending retries and acknowledgements waiting for a forwardDone that will not come go).
   */
  dropSource(qid: string): void {
    this.#retry = this.#retry.filter((p) => p.f.qid !== qid);
    for (const key of [...this.#acked.keys()]) if (key.startsWith(`${qid}:`)) this.#acked.delete(key);
  }

  /** A source shard died: its records come again when it is back. */
  shardDown(shard: number): void {
    this.#retry = this.#retry.filter((p) => p.sourceShard !== shard);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#retry = [];
  }

  #attempt(p: Pending): void {
    if (this.#closed) return;
    this.#targets.insert(p.f, p.record, (outcome) => {
      if (outcome === 'drop') return;
      if (outcome === 'retry') return this.#later(p);
      this.delivered++;
      this.#acked.set(forwardIdString(p.f), outcome.stored);
      // If the source restarted meanwhile, its new incarnation gets the ack: the record is in
      // the target, so deleting it there is right too.
      this.#pool.send(p.sourceShard, { t: 'forwarded', f: p.f });
    });
  }

  #later(p: Pending): void {
    if (this.#closed) return;
    this.retried++;
    this.#retry.push(p);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        const due = this.#retry;
        this.#retry = [];
        for (const q of due) this.#attempt(q);
      }, RETRY_MS);
      this.#timer.unref();
    }
  }
}

/** Single node: the target is a queue on one of this node's shards. */
export class LocalTargets implements MoveTargets<{ shard: number; qid: string }> {
  readonly #pool: ShardPool;
  readonly #queues: QueueLookup;

  constructor(pool: ShardPool, queues: QueueLookup) {
    this.#pool = pool;
    this.#queues = queues;
  }

  insert(f: ForwardId, record: ForwardRecord, done: (outcome: InsertOutcome<{ shard: number; qid: string }>) => void): void {
    const target = this.#queues.placement(record.target);
    if (target === undefined) return done('retry');
    this.#pool.request(target.shard, (r) => ({ t: 'req', r, qid: target.id, session: 0, req: { op: 'insert', args: { items: [{ origin: f, message: record.message }] } } }), (answer: Answer) => {
      done('error' in answer ? 'retry' : { stored: { shard: target.shard, qid: target.id } });
    });
  }

  forget(target: { shard: number; qid: string }, origin: ForwardId): void {
    this.#pool.send(target.shard, { t: 'forget', qid: target.qid, origin });
  }
}
