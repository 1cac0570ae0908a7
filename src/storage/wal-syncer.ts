/**
 * The syncer: a small thread per shard that makes the shard's writes durable, so the shard worker
 * never blocks in fdatasync. The shard writes each turn's batch without a sync (WAL append and
 * memtable: fast) and asks for durability up to that write; the syncer writes one synced empty
 * batch, which fdatasyncs every WAL file not yet synced (rocksdb db_impl_write.cc `WriteToWAL`
 * syncs all of `logs_`, so a WAL switched by a memtable flush in between is covered too; checked
 * with strace), and reports "durable through write N". Requests that pile up during a sync are
 * covered by the next one: one fdatasync however many turns wrote meanwhile.
 *
 * Both threads use one open database: the syncer wraps the shard's `handle` (binding.cc
 * `db_init` with a bigint: no second open, no second LOCK; RocksDB is thread-safe for writes).
 * The syncer never closes it; the shard stops the syncer before it closes the store.
 *
 * Requests cross through shared memory (a store and a notify: no message per turn). Each completed
 * sync's write number goes to shared memory (`synced`, which the shard reads at its next turn) and
 * as a message to `reports`, the main thread's end of a channel: the main thread holds the
 * shard's answers until their write is durable (shard-pool.ts), so a sync does not wake the shard
 * to release them. The shard gets a `durable` event only when it asked for one
 * (`reportWhenSynced`): a turn kept its batch open during the sync and must write it afterwards.
 * At a low rate most syncs end with the shard idle, and its event loop then stays asleep.
 */
import { Worker, type MessagePort } from 'node:worker_threads';
import { StorageError } from './shard-store.js';
import { CONTROL_BYTES, STATE, STOP, SYNCED, SyncerState, WANT_REPORT, type FromSyncer, type WalSyncerData } from './wal-syncer-control.js';

const THREAD_URL = new URL('./wal-syncer-thread.js', import.meta.url);

export interface SyncerEvents {
  /** Every write numbered up to `through` is on disk; only after `reportWhenSynced`. */
  durable(through: number): void;
  /** A sync failed or the thread died: writes since the last `durable` may be lost (the shard must die). */
  failed(err: StorageError): void;
}

/** Longest a stop waits for a sync in progress; past it the thread is left to the process's exit. */
const STOP_BOUND_MS = 10_000;

export class WalSyncer {
  readonly #requested: BigInt64Array;
  readonly #words: BigInt64Array;
  readonly #flags: Int32Array;
  readonly #exited: Promise<void>;
  #asked = 0;
  #stopping = false;

  private constructor(control: SharedArrayBuffer, exited: Promise<void>) {
    this.#requested = new BigInt64Array(control, 0, 1);
    this.#words = new BigInt64Array(control);
    this.#flags = new Int32Array(control);
    this.#exited = exited;
  }

  /**
   * Starts the thread over an open database's `handle`; resolves once it is ready to sync. Every
   * sync's write number is posted to `reports` (moved to the thread).
   */
  static async start(handle: bigint, name: string, reports: MessagePort, events: SyncerEvents): Promise<WalSyncer> {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const worker = new Worker(THREAD_URL, { workerData: { handle, control, reports } satisfies WalSyncerData, transferList: [reports], name });
    let syncer: WalSyncer | undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromSyncer) => {
        if (m.t === 'ready') resolve();
        else if (m.t === 'durable') events.durable(m.through);
        else events.failed(new StorageError(`WAL sync failed: ${m.message}`));
      });
      worker.once('error', (err) => {
        reject(err);
        events.failed(new StorageError(`WAL syncer thread failed: ${err.message}`, { cause: err }));
      });
      worker.once('exit', (code) => {
        reject(new StorageError(`WAL syncer thread exited (${code}) before it was ready`));
        if (syncer !== undefined && !syncer.#stopping) events.failed(new StorageError(`WAL syncer thread exited (${code})`));
      });
    });
    await ready;
    syncer = new WalSyncer(control, exited);
    return syncer;
  }

  /** Asks for every write up to number `through` to be made durable; the answer is `durable`. */
  request(through: number): void {
    if (through <= this.#asked || this.#stopping) return;
    this.#asked = through;
    Atomics.store(this.#requested, 0, BigInt(through));
    Atomics.notify(this.#requested, 0);
  }

  /** The number of the last write made durable (read from shared memory: no message needed). */
  get synced(): number {
    return Number(Atomics.load(this.#words, SYNCED));
  }

  /**
   * Asks for a `durable` event once the sync in flight ends. Returns false when it has already
   * ended (every write asked for is durable: read `synced`); then no event comes for it.
   */
  reportWhenSynced(): boolean {
    Atomics.store(this.#flags, WANT_REPORT, 1);
    if (this.synced < this.#asked) return true; // the syncer sees the flag after its sync
    // The sync ended meanwhile: take the flag back; if the syncer took it first, its event comes.
    return Atomics.exchange(this.#flags, WANT_REPORT, 0) === 0;
  }

  /**
   * Stops the thread and returns once it no longer touches the database (at most one sync in
   * progress is waited for). Synchronous, so a shard may call it on its way out (process.exit).
   */
  stopNow(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    Atomics.store(this.#flags, STOP, 1);
    // The request word changes too, so a thread not yet waiting on it does not start to: a stop
    // that came before its wait is never missed.
    Atomics.store(this.#requested, 0, -1n);
    Atomics.notify(this.#requested, 0);
    Atomics.wait(this.#flags, STATE, SyncerState.Running, STOP_BOUND_MS);
  }

  /** Stops the thread and waits until it has exited. */
  async close(): Promise<void> {
    this.stopNow();
    await this.#exited;
  }
}
