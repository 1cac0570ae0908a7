/**
 * One RocksDB instance owned by one shard worker. Writes are staged into a batch during an actor
 * turn and written together by `commit()`: one write batch for every change of every actor on the
 * shard in that turn — group commit. Replies wait until that write is durable.
 *
 * A commit is either synced on this thread (one fdatasync before it returns), or, with
 * `deferSync`, written without a sync: the shard's syncer thread (wal-syncer.ts) later reports
 * `markDurable(n)` once one synced write covered write number n. While such a sync is in flight a
 * deferred commit does not write at all: the batch stays open and the following turns stage into
 * it, and `flush()` writes it when the sync has ended. (RocksDB writes one group at a time: a
 * write issued during the syncer's fdatasync would wait for it, measured at 25% of a shard's time.)
 * Each commit returns the number of the write that holds everything staged so far.
 *
 * shared/STACK.md: `put(k, v, {sync: true})` does NOT sync in this binding; only synced batches do.
 * So this module writes through batches only, and test/storage.test.ts proves a sync happens.
 * Reads used on the delivery path are synchronous (`_getManySync`): the worker has nothing better
 * to do meanwhile, and it keeps the QueueActor a synchronous state machine. They see unsynced
 * writes (memtable); whatever a turn derives from them is released only after a later sync, which
 * covers the earlier writes too (the WAL is one sequence).
 */
import { RocksLevel, type ChainedBatch } from '@nxtedition/rocksdb';
import { Encoder } from 'cbor-x';
import {
  PREFIX, dedupKey, forwardKey, groupDeliveryKey, groupDeliveryRange, groupKey, markerKey, parseForwardKey, parseGroupDeliveryKey, forwardIdString, type ForwardId, messageKey, parseDedupKey, parseMarkerKey, parseMessageKey, parseQueueKey, prefixRange, queueKey,
  queuePrefixRange, queueRange, encodeSeqMarks, decodeSeqMarks, readSeq, writeMessageKey, MESSAGE_KEY_BYTES,
} from './keys.js';
import { decodeMessage, encodeMessage } from './message-record.js';
import type {
  DedupRecord, DeliveryRecord, ForwardRecord, GroupDeliveryRecord, MessageExtra, PendingForward, QueueRecord, RecoveredMessage, RecoveredMessageSink, RecoveredQueue, StoredMessage, StreamGroupRecord,
} from './records.js';

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, copyBuffers: true, tagUint8Array: false });

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code = 'StorageFailure';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** One write of a committed batch, as the replication log carries it (keys.ts: every key starts with prefix + qid). */
export type StoreOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/**
 * The cluster's seam into group commit: sees every operation of a batch before its write (and may
 * add its own to the same batch), and hears when the write succeeded. Single-node mode installs
 * none. (With `deferSync` the write is not yet durable then: whatever the tap produces leaves the
 * shard with the turn's answers, which ShardHost holds until it is.)
 */
export interface CommitTap {
  /** The batch's operations, before the write; returns operations to write atomically with them. */
  sealing(ops: readonly StoreOp[]): StoreOp[];
  /** Every operation of the batch (the tap's own included), after the write succeeded. */
  committed(ops: readonly StoreOp[]): void;
}

/**
 * Who takes a recovered queue's messages: called once per queue, before any of its messages,
 * with its record and indexes; returns the sink for its messages, or undefined to skip them.
 * Without one, recovery collects every message into `messages` (bodies copied).
 */
export type OpenRecoveredQueue = (q: RecoveredQueue) => RecoveredMessageSink | undefined;

const ignore = (): void => {};

/** Sequences a queue's gone mark moves past its last clear before the next one (see #goneBelow). */
const CLEAR_STEP = 1024;

/** Every message of a recovered queue below this is gone (purged, or below the gone mark). */
function goneBelowOf(q: RecoveredQueue): number {
  return Math.max(q.record.purgedBelow, q.goneBelow);
}

/** Size of the slabs message records are written into (ShardStore.putMessage). */
const SLAB_BYTES = 256 * 1024;

/**
 * RocksDB's memtables per shard. Without a budget the binding keeps RocksDB's defaults: 64 MiB
 * write buffers, two of them, plus allocator slack: about 170 MB resident under a steady write
 * load, measured, more than the compact index of 10 million queued messages (issue 5, memory).
 * With a budget it uses level compaction with write buffers of a quarter of it (up to 6 of them,
 * flushed two at a time), compacting level 0 into level 1 every two flushes, so every `budget`
 * bytes written, and level 1 holds `budget` bytes.
 * 64 MiB: 16 MiB buffers, ~60,000 messages of 256 bytes each. At 32 MiB RocksDB's compaction
 * threads cost 1.1 µs of CPU per message in publish ×1 and 1.1–1.6 µs in publish ×16 (the
 * broker's CPU by thread, loadtest/analysis.md, tenth session); at 64 MiB 0.3 and 0.5–0.7 µs,
 * for 20 MB more resident with 10 million messages queued (357 MB against 337 MB).
 * Index blocks of the tables live in the (8 MiB) block cache rather than beside it, so they do not
 * grow with the data on disk (7 bytes a queued message otherwise, measured at 10 million).
 */
const MEMTABLE_BUDGET_BYTES = 64 * 1024 * 1024;
/** A written batch of at most this many key and value bytes is emptied and reused (ShardStore.#spare). */
const SPARE_MAX_BYTES = 1024 * 1024;

/**
 * Options the binding defaults differently from RocksDB, set here on purpose:
 * - `walCompression: false`: the binding compresses every WAL record with ZSTD unless told not to.
 *   That cost 5 µs of CPU per 256-byte message on the shard worker's turn (300k puts in batches of
 *   1000: 2.9 s of CPU with it, 1.2 s without, measured), for bodies that rarely compress.
 */
const OPEN_OPTIONS = {
  createIfMissing: true, infoLogLevel: null, compaction: 'level', memtableMemoryBudget: MEMTABLE_BUDGET_BYTES,
  cacheIndexAndFilterBlocks: true, walCompression: false,
} as const;

export class ShardStore {
  #db: RocksLevel;
  #batch: ChainedBatch | undefined;
  /**
   * The batch last written, emptied, for the next write. abstract-level adds every batch to a
   * Set of the database's open resources and deletes it when the batch closes: a new batch per
   * write was an add and a delete in that long-lived Set for each of the shard's thousands of
   * writes a second, and V8 replaces such a Set's hash table every few of them, allocating the
   * new one in the old generation as the Set is old: garbage for the next full collection
   * (loadtest/analysis.md, seventh session). Kept only after a write of at most SPARE_MAX_BYTES:
   * an emptied native batch keeps its buffer's capacity. Reuse relies on staging through the
   * binding's `_put`/`_del` only: abstract-level's `put`/`del` would keep a copy of every
   * operation in the batch until it is closed, i.e. forever.
   */
  #spare: ChainedBatch | undefined;
  #staged = 0;
  /** Key and value bytes staged in the open batch. */
  #stagedBytes = 0;
  /** Range deletions to run after the next commit (purge and queue deletion leave garbage behind). */
  #afterCommit: Array<{ gte: Buffer; lt: Buffer }> = [];
  readonly #clearing = new Set<Promise<void>>();
  #syncs = 0;
  /** Batches written since open, how many of them are known durable, and up to which one a sync was asked for. */
  #written = 0;
  #durable = 0;
  #requested = 0;
  /**
   * Message and outbox records of the open batch (null: deleted), so that reads see them before
   * the batch is written: a body not kept in memory is read back from the store, maybe in a later
   * turn than its send. Cleared when the batch is written (then RocksDB has them).
   */
  readonly #unwrittenMessages = new UnwrittenMessages();
  readonly #unwrittenForwards = new Map<string, Uint8Array | null>();
  /** Per queue, the last gone mark staged and the one below which this process last cleared its message keys (#goneBelow). */
  readonly #gone = new Map<string, { mark: number; cleared: number }>();
  #tap: CommitTap | undefined;
  /** The staged operations, recorded only while a tap is installed. */
  #ops: StoreOp[] = [];

  private constructor(db: RocksLevel) {
    this.#db = db;
  }

  static async open(dir: string): Promise<ShardStore> {
    const db = new RocksLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      await db.open(OPEN_OPTIONS);
    } catch (err) {
      // abstract-level says only "Database is not open"; the reason (e.g. "IO error: While lock
      // file: …/LOCK: Resource temporarily unavailable" — another process has it) is in the cause.
      const cause = (err as Error).cause;
      const reason = cause instanceof Error ? cause.message : (err as Error).message;
      throw new StorageError(`cannot open RocksDB at ${dir}: ${reason}`, { cause: err });
    }
    return new ShardStore(db);
  }

  /** Number of synced writes made on this thread since open (a test proves commits sync). */
  get syncCount(): number {
    return this.#syncs;
  }

  /** Number of the last batch written. */
  get written(): number {
    return this.#written;
  }

  /** Number of the last batch known durable (≤ written). */
  get durable(): number {
    return this.#durable;
  }

  /** The syncer made every write through number `through` durable. */
  markDurable(through: number): void {
    if (through > this.#durable) this.#durable = Math.min(through, this.#written);
  }

  /**
   * The write number to ask the syncer for now, if any: the last write, when it is not yet
   * durable and no sync is in flight (one in flight is followed by the next once it reports).
   */
  syncRequest(): number | undefined {
    if (this.#written <= this.#requested || this.#requested > this.#durable) return undefined;
    this.#requested = this.#written;
    return this.#written;
  }

  /** The open database's native handle, for the syncer thread to share (see wal-syncer.ts). */
  get handle(): bigint {
    return this.#db.handle;
  }

  /** Operations staged and not yet committed. */
  get staged(): number {
    return this.#staged;
  }

  /**
   * Where every write of a turn goes. With a commit tap installed (cluster mode) each put/del is
   * also recorded, so any write method — present or future — that stages through here replicates.
   *
   * Staged through the binding's own `_put`/`_del`, not abstract-level's `put`/`del`: those copy
   * their options twice, look up encodings and keep an object holding key and value for every
   * operation until the batch closes (for a `batch` event this module never listens to). That was
   * ~0.5 µs of the ~1.3 µs a put cost on the shard's turn (a scratch loop of 300 batches of 1,000
   * puts of 280 bytes), plus the garbage. The binding copies key and value into its write batch at
   * once, so both may be reused after the call.
   */
  #put(key: Buffer, value: Uint8Array): void {
    this.#staged++;
    this.#stagedBytes += key.byteLength + value.byteLength;
    const v = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    (this.#batch ??= this.#newBatch())._put(key, v);
    if (this.#tap !== undefined) this.#ops.push({ type: 'put', key, value });
  }

  #del(key: Buffer): void {
    this.#staged++;
    this.#stagedBytes += key.byteLength;
    (this.#batch ??= this.#newBatch())._del(key);
    if (this.#tap !== undefined) this.#ops.push({ type: 'del', key });
  }

  /** Installs the replication tap (cluster mode); see CommitTap. */
  setCommitTap(tap: CommitTap): void {
    this.#tap = tap;
  }

  /**
   * Stages raw operations (a follower applying its leader's log, or installing its snapshot). A
   * put of a queue's 'S' marks carries its gone mark: the follower clears below it as the leader
   * does (putNextSeq), so acknowledged messages leave the replica too.
   */
  stageOps(ops: readonly StoreOp[]): void {
    for (const op of ops) {
      const key = Buffer.from(op.key);
      if (op.type === 'put') {
        this.#put(key, op.value);
        if (key[0] === PREFIX.nextSeq && key.length === 9) this.#goneBelow(parseQueueKey(key), decodeSeqMarks(Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength)).goneBelow);
      } else {
        this.#del(key);
      }
    }
  }

  /** Every stored key and value of one queue, read synchronously (a consistent view: no commit runs meanwhile). */
  readQueueKeys(qid: string): Array<[Buffer, Buffer]> {
    const rows: Array<[Buffer, Buffer]> = [];
    for (const prefix of Object.values(PREFIX)) this.#readRangeSync(queuePrefixRange(prefix, qid), rows);
    return rows;
  }

  /** The outbox records of one queue, read synchronously (a new leader sends them on: cluster mode). */
  forwardsOf(qid: string): PendingForward[] {
    return this.#readRangeSync(queuePrefixRange(PREFIX.forward, qid), []).map(([key]) => parseForwardKey(key));
  }

  #readRangeSync(range: { gte: Buffer; lt: Buffer }, rows: Array<[Buffer, Buffer]>): Array<[Buffer, Buffer]> {
    this.#visitRangeSync(range, (key, value) => rows.push([key, value]));
    return rows;
  }

  /**
   * Every row of `range` in key order, read synchronously. The open batch is written first: an
   * iterator sees only what RocksDB has (recoverQueue once missed the entries a new leader had
   * applied in a turn that ended during a sync, while its mark counted them).
   */
  #visitRangeSync(range: { gte: Buffer; lt: Buffer }, visit: (key: Buffer, value: Buffer) => void): void {
    this.flush();
    const it = this.#db.iterator({ ...range, keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      for (;;) {
        const { rows: flat, finished } = it._nextvSync(1000);
        for (let i = 0; i < flat.length; i += 2) visit(flat[i]!, flat[i + 1]!);
        if (finished || flat.length === 0) break;
      }
    } finally {
      it._closeSync();
    }
  }

  /** Reads one key synchronously. */
  readKey(key: Buffer): Buffer | undefined {
    this.flush();
    return this.#db._getManySync([key])[0];
  }

  putQueue(record: QueueRecord): void {
    this.#put(queueKey(PREFIX.queue, record.id), cbor.encode(record));
  }

  /** Deletes a queue: its record and high-water mark now, its messages after the commit. */
  removeQueue(qid: string): void {
    this.#gone.delete(qid);
    this.#del(queueKey(PREFIX.queue, qid));
    this.#del(queueKey(PREFIX.nextSeq, qid));
    this.#afterCommit.push(
      queueRange(PREFIX.message, qid), queueRange(PREFIX.delivery, qid), queuePrefixRange(PREFIX.marker, qid), queuePrefixRange(PREFIX.dedup, qid), queuePrefixRange(PREFIX.group, qid),
      queuePrefixRange(PREFIX.groupDelivery, qid),
    );
  }

  /**
   * Cluster mode: forgets this store's copy of a deleted queue. The keys that make it a queue here
   * (record, high-water mark, replication mark) go in the synced batch; every other key of the
   * queue is cleared after the commit (garbage only: nothing can reach it without the record).
   * Outbox records ('F') are not touched: they outlive their queue until the forwarder moved them.
   */
  discardQueue(qid: string): void {
    this.#gone.delete(qid);
    for (const prefix of [PREFIX.queue, PREFIX.nextSeq, PREFIX.replica]) this.#del(queueKey(prefix, qid));
    for (const prefix of Object.values(PREFIX)) if (prefix !== PREFIX.forward) this.#afterCommit.push(queuePrefixRange(prefix, qid));
  }

  /** Cluster mode: the queue ids this store holds a replication mark for. */
  async replicaQids(): Promise<string[]> {
    const out: string[] = [];
    for await (const [key] of this.#scan(prefixRange(PREFIX.replica))) out.push(parseQueueKey(key));
    return out;
  }

  /**
   * Clears messages (and their delivery records) below `seq` after the commit; the caller stages
   * the mark that makes them garbage (purgedBelow, the gone mark) itself. One DeleteRange each
   * (the binding's clear without a limit): its cost does not grow with the keys it covers.
   */
  clearBelow(qid: string, seq: number): void {
    this.#afterCommit.push(
      { gte: messageKey(PREFIX.message, qid, 0), lt: messageKey(PREFIX.message, qid, seq) },
      { gte: messageKey(PREFIX.delivery, qid, 0), lt: messageKey(PREFIX.delivery, qid, seq) },
    );
  }

  /**
   * Stages a queue's 'S' marks (keys.ts). The gone mark makes every message key below it garbage:
   * once it has passed the last clear by CLEAR_STEP, the range is cleared after the commit.
   */
  putNextSeq(qid: string, nextSeq: number, deliveredBelow: number, goneBelow: number): void {
    this.#put(queueKey(PREFIX.nextSeq, qid), encodeSeqMarks(nextSeq, deliveredBelow, goneBelow));
    this.#goneBelow(qid, goneBelow);
  }

  /**
   * A queue's gone mark, as staged (leader) or applied from the leader's log (follower, stageOps):
   * the keys below it are cleared in steps, not per mark. Each clear is a range tombstone, and one
   * per turn of acks would pile up in the memtable, which every read must consider; between
   * clears the keys are garbage that recovery skips (and clears, at start), and close() clears
   * what is left. The first mark a queue stages in this process clears from 0, which covers what
   * an earlier run left.
   */
  #goneBelow(qid: string, goneBelow: number): void {
    const gone = this.#gone.get(qid);
    if (gone === undefined) {
      if (goneBelow === 0) return;
      this.#gone.set(qid, { mark: goneBelow, cleared: goneBelow });
    } else {
      // The last mark staged is the queue's, even when lower than an earlier one: a deposed
      // leader's copy replaced by its new leader's snapshot (which puts back what the old mark
      // had cleared) takes the new leader's mark, and close() must not clear below the old one.
      gone.mark = goneBelow;
      if (goneBelow < gone.cleared + CLEAR_STEP) return;
      gone.cleared = goneBelow;
    }
    this.clearBelow(qid, goneBelow);
  }

  /**
   * Stages a message record. Per sent message this was two buffers from Node's pool (a new 8 KiB
   * pool every ~30 messages: `allocUnsafe` was 8% of the shard in publish ×16): the key is written
   * into one buffer reused for every put (the binding copies it; with a tap, which keeps the
   * operations, each gets its own), the record into a slab shared by the open batch's records.
   */
  putMessage(qid: string, seq: number, message: StoredMessage): void {
    const value = encodeMessage(message, this.#slab);
    const key = this.#tap === undefined ? writeMessageKey(this.#messageKey, PREFIX.message, qid, seq) : messageKey(PREFIX.message, qid, seq);
    this.#put(key, value);
    this.#unwrittenMessages.add(qid, seq, value);
    this.#unwrittenMessages.putNew(qid, seq);
  }

  readonly #messageKey = Buffer.allocUnsafeSlow(MESSAGE_KEY_BYTES);
  #slabBytes = Buffer.allocUnsafeSlow(0);
  #slabUsed = 0;

  /**
   * A buffer for one record: a piece of a shared slab (a new slab when this one is used up: the
   * old one lives as long as the records in it are held, by the open batch's log or a reader).
   */
  readonly #slab = (size: number): Buffer => {
    if (size > SLAB_BYTES / 8) return Buffer.allocUnsafe(size);
    if (this.#slabUsed + size > this.#slabBytes.length) {
      this.#slabBytes = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#slabUsed = 0;
    }
    const start = this.#slabUsed;
    this.#slabUsed = start + size;
    return this.#slabBytes.subarray(start, start + size);
  };

  putDelivery(qid: string, seq: number, delivery: DeliveryRecord): void {
    this.#put(messageKey(PREFIX.delivery, qid, seq), cbor.encode(delivery));
  }

  deleteMessage(qid: string, seq: number): void {
    this.#del(messageKey(PREFIX.message, qid, seq));
    this.#unwrittenMessages.add(qid, seq, null);
  }

  deleteDelivery(qid: string, seq: number): void {
    this.#del(messageKey(PREFIX.delivery, qid, seq));
  }

  putForward(f: ForwardId, record: ForwardRecord): void {
    const value = cbor.encode(record) as Uint8Array;
    this.#put(forwardKey(f), value);
    this.#unwrittenForwards.set(forwardIdString(f), value);
  }

  deleteForward(f: ForwardId): void {
    this.#del(forwardKey(f));
    this.#unwrittenForwards.set(forwardIdString(f), null);
  }

  /** Reads outbox records synchronously (the host sends them on in bounded slices). */
  readForwards(keys: readonly PendingForward[]): Array<ForwardRecord | undefined> {
    if (keys.length === 0) return [];
    const values = readThrough(this.#unwrittenForwards, keys.map(forwardIdString), (missing) => this.#db._getManySync(missing.map((i) => forwardKey(keys[i]!))));
    return values.map((v) => (v === undefined ? undefined : (cbor.decode(v) as ForwardRecord)));
  }

  putMarker(qid: string, origin: ForwardId): void {
    this.#put(markerKey(qid, origin), Buffer.alloc(0));
  }

  deleteMarker(qid: string, origin: ForwardId): void {
    this.#del(markerKey(qid, origin));
  }

  putGroupDelivery(qid: string, gid: number, seq: number, record: GroupDeliveryRecord): void {
    this.#put(groupDeliveryKey(qid, gid, seq), cbor.encode(record));
  }

  deleteGroupDelivery(qid: string, gid: number, seq: number): void {
    this.#del(groupDeliveryKey(qid, gid, seq));
  }

  /** Drops every receive count of one group (the group was deleted or reset), after the commit. */
  clearGroupDeliveries(qid: string, gid: number): void {
    this.#afterCommit.push(groupDeliveryRange(qid, gid));
  }

  putDedup(qid: string, id: string, record: DedupRecord): void {
    this.#put(dedupKey(qid, id), cbor.encode(record));
  }

  deleteDedup(qid: string, id: string): void {
    this.#del(dedupKey(qid, id));
  }

  putGroup(qid: string, name: string, record: StreamGroupRecord): void {
    this.#put(groupKey(qid, name), cbor.encode(record));
  }

  deleteGroup(qid: string, name: string): void {
    this.#del(groupKey(qid, name));
  }

  /** Every outbox record left by an earlier run, in key order (queue, then sequence). */
  async recoverForwards(): Promise<PendingForward[]> {
    const out: PendingForward[] = [];
    for await (const [key] of this.#scan(prefixRange(PREFIX.forward))) out.push(parseForwardKey(key));
    return out;
  }

  /**
   * Ends a turn's staging and returns the number of the write that holds everything staged so far
   * (with nothing staged, the last write's). Synced unless `deferSync`: the open batch (or, with
   * nothing staged but writes not yet durable, an empty batch) is written with a sync, durable on
   * return. With `deferSync` the batch is written without a sync — unless a sync is in flight:
   * then it stays open until `flush()`. Throws StorageError when a write fails; the caller must
   * then treat its in-memory state as lost (the worker exits and recovers).
   */
  commit(options?: { deferSync?: boolean }): number {
    const sync = options?.deferSync !== true;
    const tap = this.#tap;
    if (tap !== undefined) {
      for (const op of tap.sealing(this.#ops)) {
        if (op.type === 'put') this.#put(Buffer.from(op.key), op.value);
        else this.#del(Buffer.from(op.key));
      }
    }
    const ops = this.#ops;
    this.#ops = [];
    if (sync) {
      this.#write(true);
      if (tap !== undefined && ops.length > 0) tap.committed(ops);
    } else {
      // The operations are sealed into the batch now, whenever it is written: what the tap makes
      // of them leaves the shard only once the batch is durable (ShardHost holds it until then).
      if (tap !== undefined && ops.length > 0) tap.committed(ops);
      if (this.#requested <= this.#durable) this.#write(false);
    }
    return this.#batch === undefined ? this.#written : this.#written + 1;
  }

  /** Writes the open batch now, without a sync (the sync in flight has ended, or a read needs everything in RocksDB). */
  flush(): void {
    this.#write(false);
  }

  #write(sync: boolean): void {
    let batch = this.#batch;
    if (batch === undefined && sync && this.#durable < this.#written) batch = this.#newBatch(); // an empty synced write: syncs the WAL
    if (batch !== undefined) {
      this.#batch = undefined;
      const counts = this.#staged > 0;
      const bytes = this.#stagedBytes;
      this.#staged = 0;
      this.#stagedBytes = 0;
      try {
        batch._writeSync({ sync });
        if (counts) this.#written++;
        if (sync) {
          this.#syncs++;
          this.#durable = this.#written;
        }
      } catch (err) {
        batch.close(ignore);
        throw new StorageError(`${sync ? 'synced' : 'unsynced'} batch write failed: ${(err as Error).message}`, { cause: err });
      }
      // Staged through the binding's `_put`/`_del`, the batch holds no copy of its operations on
      // the JS side; emptied, it is the next write's (see #spare). A large one is closed instead.
      if (bytes <= SPARE_MAX_BYTES) {
        batch._clear();
        this.#spare = batch;
      } else {
        batch.close(ignore);
      }
      this.#unwrittenMessages.clear();
      // Map.clear() allocates a new table even for an empty Map, in the old generation once the
      // Map is old: per write, that was old-generation garbage for the next full collection.
      if (this.#unwrittenForwards.size > 0) this.#unwrittenForwards.clear();
    }
    if (this.#afterCommit.length > 0) {
      const ranges = this.#afterCommit;
      this.#afterCommit = [];
      // Garbage only: losing these in a crash is harmless, recovery skips and clears them again.
      // They run once the batch that made them garbage is written: they land in the WAL after it,
      // so no recovery can see them without it.
      for (const range of ranges) {
        const clearing: Promise<void> = this.#db.clear(range).catch(() => undefined).finally(() => this.#clearing.delete(clearing));
        this.#clearing.add(clearing);
      }
    }
  }

  /** A batch to stage into: the emptied spare, or a new one. */
  #newBatch(): ChainedBatch {
    const spare = this.#spare;
    if (spare === undefined) return this.#db.batch();
    this.#spare = undefined;
    return spare;
  }

  /** The number the open batch will have once written: what is staged now is written in it. */
  openBatch(): number {
    return this.#written + 1;
  }

  /** Whether message `seq` of queue `qid` is stored in the open batch (staged, not yet written). */
  unwritten(qid: string, seq: number): boolean {
    return this.#unwrittenMessages.holdsNew(qid, seq);
  }

  /** Reads stored messages synchronously (delivery of messages whose body is not in memory). */
  readMessages(qid: string, seqs: readonly number[]): Array<StoredMessage | undefined> {
    if (seqs.length === 0) return [];
    const unwritten = this.#unwrittenMessages.of(qid);
    const read = (missing: number[]): Array<Buffer | undefined> => this.#db._getManySync(missing.map((i) => messageKey(PREFIX.message, qid, seqs[i]!)));
    const values = unwritten === undefined ? read(seqs.map((_, i) => i)) : readThrough(unwritten, seqs, read);
    return values.map((v) => (v === undefined ? undefined : decodeMessage(v)));
  }

  /**
   * Rebuilds what the actors need from disk: every queue with its indexes, then its messages in
   * sequence order with their delivery records, handed to the sink `open` gives for the queue
   * (one row at a time: memory stays bounded however many messages there are). Messages of
   * deleted queues, purged messages and messages below the gone mark are skipped and cleared.
   */
  async recover(open: OpenRecoveredQueue = collect): Promise<RecoveredQueue[]> {
    const queues = new Map<string, RecoveredQueue>();
    for await (const [key, value] of this.#scan(prefixRange(PREFIX.queue))) {
      const record = cbor.decode(value) as QueueRecord;
      queues.set(parseQueueKey(key), { record, nextSeq: 0, deliveredBelow: 0, goneBelow: 0, messages: [], markers: [], dedup: [], groups: [], groupDeliveries: [] });
    }
    for await (const [key] of this.#scan(prefixRange(PREFIX.marker))) {
      const m = parseMarkerKey(key);
      queues.get(m.qid)?.markers.push(forwardIdString(m.origin));
    }
    for await (const [key, value] of this.#scan(prefixRange(PREFIX.groupDelivery))) {
      const d = parseGroupDeliveryKey(key);
      queues.get(d.qid)?.groupDeliveries.push({ gid: d.gid, seq: d.seq, ...(cbor.decode(value) as GroupDeliveryRecord) });
    }
    for await (const [key, value] of this.#scan(prefixRange(PREFIX.group))) {
      const g = parseDedupKey(key); // same layout: prefix, qid, utf8 name
      queues.get(g.qid)?.groups.push({ name: g.id, ...(cbor.decode(value) as StreamGroupRecord) });
    }
    for await (const [key, value] of this.#scan(prefixRange(PREFIX.dedup))) {
      const d = parseDedupKey(key);
      queues.get(d.qid)?.dedup.push({ id: d.id, ...(cbor.decode(value) as DedupRecord) });
    }
    for await (const [key, value] of this.#scan(prefixRange(PREFIX.nextSeq))) {
      const q = queues.get(parseQueueKey(key));
      if (q !== undefined) Object.assign(q, decodeSeqMarks(value));
    }
    const deliveries = new Map<string, Map<number, DeliveryRecord>>();
    for await (const [key, value] of this.#scan(prefixRange(PREFIX.delivery))) {
      const { qid, seq } = parseMessageKey(key);
      let m = deliveries.get(qid);
      if (m === undefined) deliveries.set(qid, (m = new Map()));
      m.set(seq, cbor.decode(value) as DeliveryRecord);
    }
    const sinks = new Map<string, RecoveredMessageSink | undefined>();
    for (const [qid, q] of queues) sinks.set(qid, open(q));
    // One pass over every message key (qid, seq order). Rows of one queue are contiguous, so the
    // queue is looked up when the qid bytes change, not per row.
    const orphans = new Set<string>();
    let qidKey: Buffer | undefined;
    let current: { qid: string; q: RecoveredQueue | undefined; sink: RecoveredMessageSink | undefined; deliveries: Map<number, DeliveryRecord> | undefined } | undefined;
    this.#visitRangeSync(prefixRange(PREFIX.message), (key, value) => {
      if (qidKey === undefined || !sameQid(key, qidKey)) {
        qidKey = Buffer.from(key.subarray(1, 9));
        const qid = qidKey.toString('hex');
        current = { qid, q: queues.get(qid), sink: sinks.get(qid), deliveries: deliveries.get(qid) };
      }
      const { qid, q, sink } = current!;
      const seq = readSeq(key, 9);
      if (q === undefined || seq < goneBelowOf(q)) {
        orphans.add(qid);
        return;
      }
      if (seq >= q.nextSeq) q.nextSeq = seq + 1;
      sink?.message(recoveredMessage(seq, decodeMessage(value), current!.deliveries?.get(seq)));
    });
    for (const sink of sinks.values()) sink?.end();
    for (const qid of orphans) {
      const q = queues.get(qid);
      if (q === undefined) {
        this.#afterCommit.push(queueRange(PREFIX.message, qid), queueRange(PREFIX.delivery, qid));
      } else {
        this.clearBelow(qid, goneBelowOf(q));
      }
    }
    for (const [qid] of deliveries) if (!queues.has(qid)) this.#afterCommit.push(queueRange(PREFIX.delivery, qid));
    this.commit();
    return [...queues.values()];
  }

  /**
   * Rebuilds one queue from disk, synchronously (cluster mode: a replica promoted to leader), its
   * messages handed to the sink `open` gives as recover() does. Undefined when the queue has no
   * record here. Messages below purgedBelow or the gone mark are skipped (their keys are garbage).
   */
  recoverQueue(qid: string, open: OpenRecoveredQueue = collect): RecoveredQueue | undefined {
    const recordRow = this.#readRangeSync(queuePrefixRange(PREFIX.queue, qid), [])[0];
    if (recordRow === undefined) return undefined;
    const record = cbor.decode(recordRow[1]) as QueueRecord;
    const q: RecoveredQueue = { record, nextSeq: 0, deliveredBelow: 0, goneBelow: 0, messages: [], markers: [], dedup: [], groups: [], groupDeliveries: [] };
    const deliveries = new Map<number, DeliveryRecord>();
    const rows: Array<[Buffer, Buffer]> = [];
    for (const prefix of Object.values(PREFIX)) if (prefix !== PREFIX.message && prefix !== PREFIX.queue) this.#readRangeSync(queuePrefixRange(prefix, qid), rows);
    for (const [key, value] of rows) {
      switch (key[0]) {
        case PREFIX.nextSeq:
          Object.assign(q, decodeSeqMarks(value));
          break;
        case PREFIX.delivery:
          deliveries.set(parseMessageKey(key).seq, cbor.decode(value) as DeliveryRecord);
          break;
        case PREFIX.marker: {
          q.markers.push(forwardIdString(parseMarkerKey(key).origin));
          break;
        }
        case PREFIX.groupDelivery: {
          const d = parseGroupDeliveryKey(key);
          q.groupDeliveries.push({ gid: d.gid, seq: d.seq, ...(cbor.decode(value) as GroupDeliveryRecord) });
          break;
        }
        case PREFIX.dedup: {
          const d = parseDedupKey(key);
          q.dedup.push({ id: d.id, ...(cbor.decode(value) as DedupRecord) });
          break;
        }
        case PREFIX.group: {
          const g = parseDedupKey(key); // same layout: prefix, qid, utf8 name
          q.groups.push({ name: g.id, ...(cbor.decode(value) as StreamGroupRecord) });
          break;
        }
      }
    }
    const sink = open(q);
    const range = queueRange(PREFIX.message, qid);
    range.gte = messageKey(PREFIX.message, qid, goneBelowOf(q));
    this.#visitRangeSync(range, (key, value) => {
      const seq = readSeq(key, 9);
      if (seq >= q.nextSeq) q.nextSeq = seq + 1;
      sink?.message(recoveredMessage(seq, decodeMessage(value), deliveries.get(seq)));
    });
    sink?.end();
    return q;
  }

  async *#scan(range: { gte: Buffer; lt: Buffer }): AsyncGenerator<[Buffer, Buffer]> {
    this.flush();
    const it = this.#db.iterator({ ...range, keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      for (;;) {
        const rows = await it.nextv(1000);
        if (rows.length === 0) return;
        yield* rows;
      }
    } finally {
      await it.close();
    }
  }

  async close(): Promise<void> {
    if (this.#batch !== undefined || this.#durable < this.#written) this.commit();
    // What the gone marks cover and no clear has reached yet goes now: a stopped store keeps no
    // key of a message that left its queue.
    for (const [qid, gone] of this.#gone) {
      if (gone.mark > gone.cleared) this.clearBelow(qid, gone.mark);
    }
    this.#gone.clear();
    this.flush();
    // Range clears still running finish first (a clean stop leaves no garbage behind).
    await Promise.all(this.#clearing);
    this.#spare?.close(ignore);
    this.#spare = undefined;
    if (this.#db.status === 'open') await this.#db.close();
  }
}

/**
 * The message records (null: deleted) staged in the open batch, for reads until it is written.
 * Recorded as a log and indexed by queue and sequence only when a read asks: a read of the store
 * is rare (a body not kept in memory), a put is per message, and a map entry per put in a map per
 * queue cost ~1 µs of the shard's turn per sent message (publish ×1 profile: 6% of the worker).
 */
class UnwrittenMessages {
  #qids: string[] = [];
  #seqs: number[] = [];
  #values: Array<Buffer | null> = [];
  /**
   * Per queue, the first message put in the open batch (see putNew); the queue of the last put.
   * A new Map per written batch rather than clear(): clear() allocates the emptied Map's table in
   * the old generation once the Map is old (garbage for the next full collection at every write
   * that carried a send), a new Map is young and dies young.
   */
  #firstNew = new Map<string, number>();
  #lastQid: string | undefined;
  /** The log indexed, built by the first read after a write; kept up to date while it exists. */
  #index: Map<string, Map<number, Buffer | null>> | undefined;

  add(qid: string, seq: number, value: Buffer | null): void {
    this.#qids.push(qid);
    this.#seqs.push(seq);
    this.#values.push(value);
    if (this.#index !== undefined) indexed(this.#index, qid).set(seq, value);
  }

  /** The records of one queue, last one per sequence, or undefined when it has none. */
  of(qid: string): Map<number, Buffer | null> | undefined {
    if (this.#qids.length === 0) return undefined;
    let index = this.#index;
    if (index === undefined) {
      index = this.#index = new Map();
      for (let i = 0; i < this.#qids.length; i++) indexed(index, this.#qids[i]!).set(this.#seqs[i]!, this.#values[i]!);
    }
    return index.get(qid);
  }

  /**
   * A message record put is always of a new message (sequences only grow, and a record is put once,
   * when its message is made): so the open batch holds every message of a queue from the first
   * one put in it on. Kept per queue as that first sequence, an O(1) answer to `holdsNew`.
   */
  putNew(qid: string, seq: number): void {
    if (qid === this.#lastQid) return;
    this.#lastQid = qid;
    if (!this.#firstNew.has(qid)) this.#firstNew.set(qid, seq);
  }

  /** Whether message `seq` of `qid` was made in the open batch (and so is stored nowhere else yet). */
  holdsNew(qid: string, seq: number): boolean {
    const first = this.#firstNew.get(qid);
    return first !== undefined && seq >= first;
  }

  /** The batch was written: RocksDB has them all now. */
  clear(): void {
    this.#lastQid = undefined;
    if (this.#firstNew.size > 0) this.#firstNew = new Map();
    if (this.#qids.length === 0) return;
    this.#qids = [];
    this.#seqs = [];
    this.#values = [];
    this.#index = undefined;
  }
}

function indexed(index: Map<string, Map<number, Buffer | null>>, qid: string): Map<number, Buffer | null> {
  let m = index.get(qid);
  if (m === undefined) index.set(qid, (m = new Map()));
  return m;
}

/**
 * Values for `keys`: from `unwritten` where it has the key (null: deleted, read as undefined), the
 * rest from `read`, which gets the indexes (into `keys`) of the keys it must read.
 */
function readThrough<K, V extends Uint8Array>(unwritten: Map<K, V | null>, keys: readonly K[], read: (missing: number[]) => Array<V | undefined>): Array<V | undefined> {
  const out = new Array<V | undefined>(keys.length);
  const missing: number[] = [];
  keys.forEach((k, i) => {
    const v = unwritten.get(k);
    if (v === undefined) missing.push(i);
    else out[i] = v ?? undefined;
  });
  if (missing.length > 0) read(missing).forEach((v, j) => (out[missing[j]!] = v));
  return out;
}

/** Whether a key's qid bytes (1–8) are `qid`'s (8 bytes): a recovery compares every message key. */
function sameQid(key: Buffer, qid: Buffer): boolean {
  for (let i = 0; i < 8; i++) if (key[i + 1] !== qid[i]) return false;
  return true;
}

/** The fields of a StoredMessage that RecoveredMessage carries as its own; any other is `extra`. */
const OWN_FIELDS = new Set(['id', 'sentAt', 'visibleAt', 'body', 'attributes']);

/** A row as recovery hands it on; the body stays a view into the row (RecoveredMessage.body). */
export function recoveredMessage(seq: number, stored: StoredMessage, delivery: DeliveryRecord | undefined): RecoveredMessage {
  const recovered: RecoveredMessage = { seq, sentAt: stored.sentAt, visibleAt: stored.visibleAt, size: stored.body.byteLength, body: stored.body, delivery };
  if (stored.id !== undefined) recovered.id = stored.id;
  if (stored.attributes !== undefined) recovered.attributes = stored.attributes;
  let extra: Record<string, unknown> | undefined;
  for (const k in stored) {
    const v = (stored as unknown as Record<string, unknown>)[k];
    if (!OWN_FIELDS.has(k) && v !== undefined) (extra ??= {})[k] = v;
  }
  if (extra !== undefined) recovered.extra = extra as MessageExtra;
  return recovered;
}

/** The default OpenRecoveredQueue: every message into the queue's `messages`, its body copied. */
function collect(q: RecoveredQueue): RecoveredMessageSink {
  return {
    message: (m) => q.messages.push({ ...m, body: m.body === undefined ? undefined : new Uint8Array(m.body) }),
    end: () => {},
  };
}
