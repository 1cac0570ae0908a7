/**
 * Entry point of a shard's syncer thread (see wal-syncer.ts): waits for a request in shared
 * memory, makes every write so far durable with one synced empty batch, answers, repeats; stops
 * when the shard raises the stop flag. It shares the shard's open database and never closes it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RocksLevel } from '@nxtedition/rocksdb';
import { STATE, STOP, SYNCING, SyncerState, type FromSyncer, type WalSyncerData } from './wal-syncer-control.js';

const port = parentPort;
if (port === null) throw new Error('wal-syncer-thread.js must run in a worker thread');
const data = workerData as WalSyncerData;
const requested = new BigInt64Array(data.control, 0, 1);
const flags = new Int32Array(data.control);
const post = (m: FromSyncer): void => port.postMessage(m);

const db = new RocksLevel(data.handle, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
await db.open({ createIfMissing: false });
// Written again for every sync: an empty synced batch appends an empty WAL record and fdatasyncs
// every WAL file not yet synced, which covers all earlier unsynced writes of any thread.
const empty = db.batch();
Atomics.store(flags, STATE, SyncerState.Running);
post({ t: 'ready' });

let synced = 0n;
let lastStart = -Infinity;
for (;;) {
  // Blocks this thread only: it has nothing else to do.
  Atomics.wait(requested, 0, synced);
  if (Atomics.load(flags, STOP) === 1) break;
  // Paced (wal-syncer.ts): the shard goes on writing meanwhile, and this sync covers it all.
  const early = lastStart + data.minIntervalMs - performance.now();
  if (early > 0) Atomics.wait(flags, STOP, 0, early);
  if (Atomics.load(flags, STOP) === 1) break;
  // The flag goes up before the request is read: a write the shard numbered into the request
  // had returned before, so this sync covers it; a write it starts after seeing the flag down
  // may land before or after the sync, and is reported with a later one.
  Atomics.store(flags, SYNCING, 1);
  const through = Atomics.load(requested, 0);
  if (through === synced) {
    Atomics.store(flags, SYNCING, 0);
    continue;
  }
  lastStart = performance.now();
  try {
    empty._writeSync({ sync: true });
  } catch (err) {
    post({ t: 'failed', message: (err as Error).message });
    break;
  } finally {
    Atomics.store(flags, SYNCING, 0);
  }
  synced = through;
  post({ t: 'durable', through: Number(through) });
}
Atomics.store(flags, STATE, SyncerState.Stopped);
Atomics.notify(flags, STATE);
