/**
 * The replication log of one shard, worker side (cluster mode only).
 *
 * Every synced batch the shard commits is a list of put/del operations whose keys start with a
 * queue id (storage/keys.ts). For each queue this node LEADS, the ops of one batch become one log
 * entry `(epoch, seq, prevEpoch)`; the entry also writes the queue's replication mark
 * `'R' qid → (epoch, seq)` in the same batch, so the mark on disk always names the last entry the
 * store holds. The main thread ships entries to the followers (supervisor/cluster/replicator.ts).
 *
 * A follower applies an entry only if its own mark is exactly `(prevEpoch, seq - 1)` (the log
 * matching rule: same position, same epoch → same history), and refuses any entry from an epoch
 * lower than its mark's (fencing a deposed leader). Anything else is a mismatch: the leader then
 * sends a snapshot of the queue's keys, which replaces the follower's copy.
 */
import { PREFIX, queueKey } from '../storage/keys.js';
import type { CommitTap, ShardStore, StoreOp } from '../storage/shard-store.js';

export interface ReplicaMark {
  epoch: number;
  seq: number;
}

export interface LogEntry {
  qid: string;
  epoch: number;
  prevEpoch: number;
  seq: number;
  ops: StoreOp[];
}

export type ApplyOutcome = { ok: true; mark: ReplicaMark } | { ok: false; reason: 'fenced' | 'mismatch'; mark: ReplicaMark };

interface Leadership {
  epoch: number;
  /** The mark of the last entry written (its epoch may be an earlier leadership's). */
  mark: ReplicaMark;
}

export class ReplicaError extends Error {
  override readonly name = 'ReplicaError';
  readonly code = 'ReplicaConflict';
}

const ZERO: ReplicaMark = Object.freeze({ epoch: 0, seq: 0 });

export function encodeMark(mark: ReplicaMark): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64BE(BigInt(mark.epoch), 0);
  b.writeBigUInt64BE(BigInt(mark.seq), 8);
  return b;
}

export function decodeMark(b: Uint8Array | undefined): ReplicaMark {
  if (b === undefined || b.byteLength !== 16) return ZERO;
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return { epoch: Number(view.readBigUInt64BE(0)), seq: Number(view.readBigUInt64BE(8)) };
}

function qidOf(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset + 1, 8).toString('hex');
}

export class ReplicaLog implements CommitTap {
  readonly #store: ShardStore;
  readonly #leading = new Map<string, Leadership>();
  /** Marks of replicas (followed queues), including entries staged in the current turn. */
  readonly #marks = new Map<string, ReplicaMark>();
  /** Queues that must write an entry this turn even without other writes (a new leadership). */
  readonly #forced = new Set<string>();
  /**
   * Queues this node stops leading (follow) whose leadership ends when the batch being staged is
   * sealed: what the actor staged this turn before it stopped (the requests it answered, the
   * writes of its last turn) is the leadership's last log entry. Dropping the leadership at once
   * left those writes out of the log: the batch held them, the replies left once it was durable,
   * but no follower ever got them (a handover lost an acknowledged send and revived two
   * acknowledged deletes: test/cluster-drain.test.ts).
   */
  readonly #leaving = new Set<string>();
  /** Entries sealed for the batch being written: qid → position. */
  #sealed = new Map<string, { epoch: number; prevEpoch: number; seq: number }>();
  /** Entries of the last committed batch, taken by the host after the commit. */
  #entries: LogEntry[] = [];

  constructor(store: ShardStore) {
    this.#store = store;
    store.setCommitTap(this);
  }

  /** The mark on disk (or staged this turn) of a queue. */
  markOf(qid: string): ReplicaMark {
    const leading = this.#leading.get(qid);
    if (leading !== undefined) return { ...leading.mark };
    let mark = this.#marks.get(qid);
    if (mark === undefined) {
      mark = decodeMark(this.#store.readKey(queueKey(PREFIX.replica, qid)));
      this.#marks.set(qid, mark);
    }
    return { ...mark };
  }

  /** This node leads `qid` from now on, in `epoch`; the next commit writes the epoch's first entry. */
  lead(qid: string, epoch: number): ReplicaMark {
    const mark = this.markOf(qid);
    this.#leaving.delete(qid);
    this.#marks.delete(qid);
    this.#leading.set(qid, { epoch, mark });
    this.#forced.add(qid);
    return mark;
  }

  /** Whether this node leads `qid` (its new writes to the queue's keys are log entries). */
  leads(qid: string): boolean {
    return this.#leading.has(qid) && !this.#leaving.has(qid);
  }

  /**
   * This node no longer leads `qid` (deposed, or the queue moved). Its writes staged so far still
   * become the leadership's last entry when the batch is sealed (see #leaving); until then the
   * queue is neither led (leads() is false) nor followed (apply, install and dropCopy refuse).
   */
  follow(qid: string): void {
    if (this.#leading.has(qid)) this.#leaving.add(qid);
  }

  /** The queue was deleted: this store keeps no position for it (its 'R' key goes with the rest). */
  discard(qid: string): void {
    this.#leading.delete(qid);
    this.#leaving.delete(qid);
    this.#forced.delete(qid);
    this.#sealed.delete(qid);
    // Until the batch that deletes the key commits, a read of the disk would still find it.
    this.#marks.set(qid, { ...ZERO });
  }

  /** Follower: applies one entry of the leader's log if it continues this replica's log (see top). */
  apply(entry: LogEntry): ApplyOutcome {
    // Still leading here: this node has not yet learned that another one leads now. Refuse without
    // writing; the sender retries once this node steps down (the cluster metadata says so).
    if (this.#leading.has(entry.qid)) return { ok: false, reason: 'mismatch', mark: this.markOf(entry.qid) };
    const mark = this.markOf(entry.qid);
    if (mark.epoch > entry.epoch) return { ok: false, reason: 'fenced', mark };
    if (mark.epoch === entry.epoch && mark.seq >= entry.seq) return { ok: true, mark }; // a resend of what we hold
    if (mark.epoch !== entry.prevEpoch || mark.seq !== entry.seq - 1) return { ok: false, reason: 'mismatch', mark };
    this.#store.stageOps(entry.ops);
    const next = { epoch: entry.epoch, seq: entry.seq };
    this.#marks.set(entry.qid, next);
    return { ok: true, mark: next };
  }

  /** Follower: replaces this replica's copy of a queue with the leader's snapshot (rows include the mark). */
  install(qid: string, rows: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, mark: ReplicaMark): ReplicaMark {
    this.#abandonLeaving(qid);
    if (this.#leading.has(qid)) throw new ReplicaError(`queue ${qid} is led by this node; a snapshot cannot replace it`);
    const keep = new Set(rows.map(([k]) => Buffer.from(k).toString('hex')));
    const ops: StoreOp[] = [];
    for (const [key] of this.#store.readQueueKeys(qid)) if (!keep.has(key.toString('hex'))) ops.push({ type: 'del', key });
    for (const [key, value] of rows) ops.push({ type: 'put', key, value });
    ops.push({ type: 'put', key: queueKey(PREFIX.replica, qid), value: encodeMark(mark) });
    this.#store.stageOps(ops);
    this.#marks.set(qid, { ...mark });
    return { ...mark };
  }

  /**
   * A copy this node no longer holds because the queue moved away: every key of it goes in this
   * turn's batch, the mark too. (Not the deferred range clear of a deleted queue: a moved queue may
   * come back to this node, and a clear running after its new snapshot would erase it.)
   */
  dropCopy(qid: string): void {
    this.#abandonLeaving(qid);
    if (this.#leading.has(qid)) throw new ReplicaError(`queue ${qid} is led by this node; its copy cannot be dropped`);
    this.#store.stageOps(this.#store.readQueueKeys(qid).map(([key]) => ({ type: 'del' as const, key })));
    // Not deleted from the cache: the store still shows the old mark until this turn commits.
    this.#marks.set(qid, { ...ZERO });
  }

  /**
   * A queue stepping down this turn whose copy is replaced (install) or dropped in the same turn:
   * its last writes are not sealed as an entry (the replaced copy is what counts; a deposed
   * leader's last entry would be refused by its followers anyway).
   */
  #abandonLeaving(qid: string): void {
    if (this.#leaving.delete(qid)) this.#endLeadership(qid);
  }

  /** The leadership of `qid` is over: from its last mark on this node follows. */
  #endLeadership(qid: string): void {
    this.#marks.set(qid, this.#leading.get(qid)!.mark);
    this.#leading.delete(qid);
    this.#forced.delete(qid);
  }

  /** Leader: every stored key of a queue with the mark it corresponds to (read between commits). */
  snapshot(qid: string): { rows: Array<[Buffer, Buffer]>; mark: ReplicaMark } {
    return { rows: this.#store.readQueueKeys(qid).filter(([k]) => k[0] !== PREFIX.replica), mark: this.markOf(qid) };
  }

  // CommitTap: one entry per led queue with writes in the batch (or a forced first entry).
  sealing(ops: readonly StoreOp[]): StoreOp[] {
    const touched = new Set(this.#forced);
    this.#forced.clear();
    for (const op of ops) {
      const qid = qidOf(op.key);
      if (this.#leading.has(qid)) touched.add(qid);
    }
    const extra: StoreOp[] = [];
    for (const qid of touched) {
      const leading = this.#leading.get(qid);
      if (leading === undefined) continue;
      const position = { epoch: leading.epoch, prevEpoch: leading.mark.epoch, seq: leading.mark.seq + 1 };
      leading.mark = { epoch: position.epoch, seq: position.seq };
      this.#sealed.set(qid, position);
      extra.push({ type: 'put', key: queueKey(PREFIX.replica, qid), value: encodeMark(leading.mark) });
    }
    for (const qid of this.#leaving) this.#endLeadership(qid);
    this.#leaving.clear();
    return extra;
  }

  committed(ops: readonly StoreOp[]): void {
    if (this.#sealed.size === 0) return;
    const byQueue = new Map<string, StoreOp[]>();
    for (const op of ops) {
      const qid = qidOf(op.key);
      if (!this.#sealed.has(qid)) continue;
      let list = byQueue.get(qid);
      if (list === undefined) byQueue.set(qid, (list = []));
      list.push(op);
    }
    for (const [qid, position] of this.#sealed) this.#entries.push({ qid, ...position, ops: byQueue.get(qid) ?? [] });
    this.#sealed = new Map();
  }

  /** Entries of the batches committed since the last call. */
  takeEntries(): LogEntry[] {
    const entries = this.#entries;
    this.#entries = [];
    return entries;
  }
}
