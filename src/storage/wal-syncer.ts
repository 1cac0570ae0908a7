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
 * Requests cross through shared memory (a store and a notify: no message per turn); answers come
 * back as messages, which the shard's event loop handles between turns.
 */
import { Worker } from 'node:worker_threads';
import { StorageError } from './shard-store.js';
import { CONTROL_BYTES, STATE, STOP, SyncerState, type FromSyncer, type WalSyncerData } from './wal-syncer-control.js';

const THREAD_URL = new URL('./wal-syncer-thread.js', import.meta.url);

export interface SyncerEvents {
  /** Every write numbered up to `through` is on disk. */
  durable(through: number): void;
  /** A sync failed or the thread died: writes since the last `durable` may be lost (the shard must die). */
  failed(err: StorageError): void;
}

/** Longest a stop waits for a sync in progress; past it the thread is left to the process's exit. */
const STOP_BOUND_MS = 10_000;

export class WalSyncer {
  readonly #requested: BigInt64Array;
  readonly #flags: Int32Array;
  readonly #exited: Promise<void>;
  #asked = 0;
  #stopping = false;

  private constructor(control: SharedArrayBuffer, exited: Promise<void>) {
    this.#requested = new BigInt64Array(control, 0, 1);
    this.#flags = new Int32Array(control);
    this.#exited = exited;
  }

  /** Starts the thread (named `name`, in the kernel too) over an open database's `handle`; resolves once it is ready to sync. */
  static async start(handle: bigint, name: string, events: SyncerEvents): Promise<WalSyncer> {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const worker = new Worker(THREAD_URL, { workerData: { handle, control, name } satisfies WalSyncerData, name });
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
