/**
 * Moves between queues in a cluster (docs/cluster.md, "Moves between queues"): dead letters,
 * redrive and unroutable sends, when the target queue may be led by another node.
 *
 * The outbox protocol is the single node's (supervisor/forwarder.ts, docs/queue-semantics.md):
 * the source writes F, the target writes the arrival marker X, the source drops F, the target drops
 * X. F and X are keys of their own queues, so each replicates with its queue. What a cluster adds
 * is where each step runs, and when it may run:
 *
 *   - The node that leads the source carries its moves (its shard queues the F records at `lead`,
 *     a follower never sends any). Before the message is inserted at the target, the source's
 *     batch that deleted it and wrote F must be committed per the source's acks: else a failover
 *     of the source to a replica without that batch would bring the message back while it is in
 *     the target too.
 *   - The insert goes to the target's leader (a peer call, or this node's own handler), which
 *     answers only once its batch (message + X) is committed per the target's acks. Only then is
 *     the source told (`forwarded`), so a kill -9 of the target's leader cannot lose a move that
 *     the source already dropped.
 *   - The target drops X only after the source's deletion of F is committed: a failover of the
 *     source to a replica that still holds F replays the move, and X must still be there to turn
 *     that replay into a no-op.
 *
 * A node that stops leading a source stops carrying its moves (`drop`); the new leader replays its
 * F records, and the markers make every replay idempotent, so each move lands exactly once.
 */
import type { WireError } from '../../protocol/errors.js';
import type { SendEntry } from '../../protocol/ops.js';
import type { InsertItem } from '../../actors/queue-actor.js';
import type { ForwardId } from '../../storage/keys.js';
import type { ForwardRecord } from '../../storage/records.js';
import type { PeerAnswer } from '../../transport/peer-frames.js';
import type { InsertOutcome, MoveTargets } from '../forwarder.js';
import type { Answer, ShardPool } from '../shard-pool.js';
import { keptIn, noSuchQueue, unroutableItems } from '../unroutable.js';
import type { QueueMeta } from './meta.js';
import type { PeerCall } from './peer-messages.js';

/** What the moves need from the node around them. */
export interface ClusterMovesPorts {
  queue(name: string): QueueMeta | undefined;
  queueById(qid: string): QueueMeta | undefined;
  /** Whether this node leads `qid` now. */
  leads(qid: string): boolean;
  /** The local shard of a queue this node serves as leader now, or why not (NotLeader). */
  serving(qid: string): { shard: number } | { error: WireError };
  /** `release` once everything written to `qid` so far is committed per its acks (Replicator.hold). */
  committed(qid: string, release: () => void, fail: (error: WireError) => void): void;
  /** A peer call; to this node's own id it is handled here. */
  call(node: string, m: PeerCall, done: (a: PeerAnswer) => void, timeoutMs?: number): void;
  pool(): ShardPool;
}

/** Where a moved message landed: the target queue's id (its leader is looked up when forgetting). */
export interface MovedTo {
  qid: string;
}

const CALL_TIMEOUT_MS = 15_000;
const FORGET_RETRY_MS = 1000;
/** A marker whose forget keeps failing for this long stays (it only costs a few bytes). */
const FORGET_ATTEMPTS = 60;

export class ClusterMoves implements MoveTargets<MovedTo> {
  readonly #ports: ClusterMovesPorts;
  readonly #timers = new Set<NodeJS.Timeout>();
  /**
   * Deleted queues this node led at their deletion: their outbox records (queueDeleted dead
   * letters) still leave from here, and from no other node, until the shard reports the last one
   * gone (`drained`).
   */
  readonly #retired = new Set<string>();
  #closed = false;

  constructor(ports: ClusterMovesPorts) {
    this.#ports = ports;
  }

  /** The queue `qid` was deleted while this node led it. */
  retire(qid: string): void {
    this.#retired.add(qid);
  }

  /** Deleted queue `qid`, retired here, has no outbox record left on this node. */
  drained(qid: string): void {
    this.#retired.delete(qid);
  }

  /** Deleted queues whose moves this node still carries (for tests). */
  get retiredCount(): number {
    return this.#retired.size;
  }

  /** Whether this node carries the moves out of `qid`. */
  #carries(qid: string): boolean {
    return this.#ports.leads(qid) || this.#retired.has(qid);
  }

  /**
   * Whether a marker of a move out of `qid` may be forgotten: while this node carries `qid`'s
   * moves, or once `qid` is deleted (no leader is left to replay a move that would need it).
   */
  #mayForget(qid: string): boolean {
    return this.#carries(qid) || this.#ports.queueById(qid) === undefined;
  }

  // ── source side (the Forwarder's MoveTargets) ──────────────────────────────

  insert(f: ForwardId, record: ForwardRecord, done: (outcome: InsertOutcome<MovedTo>) => void): void {
    const ports = this.#ports;
    if (!this.#carries(f.qid)) return done('drop');
    ports.committed(f.qid, () => {
      if (!this.#carries(f.qid)) return done('drop');
      const target = ports.queue(record.target);
      if (target === undefined) return done('retry');
      ports.call(target.leader, { t: 'insert', qid: target.id, items: [{ origin: f, message: record.message }] }, (a) => {
        if (!this.#carries(f.qid)) return done('drop');
        done('error' in a ? 'retry' : { stored: { qid: target.id } });
      }, CALL_TIMEOUT_MS);
    }, () => done(this.#carries(f.qid) ? 'retry' : 'drop'));
  }

  forget(target: MovedTo, origin: ForwardId, attempt = 1): void {
    // Only while this node carries the source's moves (or the source is deleted): the Replicator
    // releases a hold on a queue it does not lead at once, and a deposed leader's deletion of F is
    // not on the new leader, which replays the move and needs the marker.
    if (this.#closed || attempt > FORGET_ATTEMPTS || !this.#mayForget(origin.qid)) return;
    const ports = this.#ports;
    ports.committed(origin.qid, () => {
      if (!this.#mayForget(origin.qid)) return;
      const meta = ports.queueById(target.qid);
      if (meta === undefined) return; // the target was deleted, markers and all
      ports.call(meta.leader, { t: 'forget', qid: target.qid, origin }, (a) => {
        if ('error' in a) this.#later(() => this.forget(target, origin, attempt + 1));
      }, CALL_TIMEOUT_MS);
    }, () => {
      // Not committed in time: try again while this node still leads the source (checked then);
      // once it does not, the marker stays (a few bytes; a replay by the new leader needs it).
      this.#later(() => this.forget(target, origin, attempt + 1));
    });
  }

  // ── target side: peer calls ────────────────────────────────────────────────

  /** Stores moved messages in a queue this node leads; answers once the batch is committed. */
  accept(qid: string, items: InsertItem[], done: (a: Answer) => void): void {
    const serving = this.#ports.serving(qid);
    if ('error' in serving) return done(serving);
    this.#ports.pool().request(serving.shard, (r) => ({ t: 'req', r, qid, session: 0, req: { op: 'insert', args: { items } } }), (a) => {
      if ('error' in a) return done(a);
      this.#ports.committed(qid, () => done(a), (error) => done({ error }));
    });
  }

  /** Drops an arrival marker of a queue this node leads (otherwise nothing: the marker replicates). */
  acceptForget(qid: string, origin: ForwardId, done: (a: Answer) => void): void {
    const serving = this.#ports.serving(qid);
    if ('error' in serving) return done(serving);
    this.#ports.pool().send(serving.shard, { t: 'forget', qid, origin });
    done({ result: {} });
  }

  // ── unroutable sends ───────────────────────────────────────────────────────

  /**
   * A send to the missing queue `name`, kept in the cluster's `unroutableQueue` (led by any
   * node). A retryable failure (a failover of that queue) is answered as such, so the front end
   * tries again; any other leaves the plain QueueDoesNotExist.
   */
  keepUnroutable(unroutable: string | undefined, name: string, entries: readonly SendEntry[], done: (a: Answer) => void): void {
    const keeper = unroutable === undefined ? undefined : this.#ports.queue(unroutable);
    if (keeper === undefined) return done({ error: noSuchQueue(name) });
    const items = unroutableItems(name, entries, Date.now());
    this.#ports.call(keeper.leader, { t: 'insert', qid: keeper.id, items }, (a) => {
      if ('error' in a) return done(a.error.retryable === true ? a : { error: noSuchQueue(name) });
      done({ error: keptIn(name, keeper.name, items.length) });
    }, CALL_TIMEOUT_MS);
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #later(run: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, FORGET_RETRY_MS);
    timer.unref();
    this.#timers.add(timer);
  }
}
