/**
 * Entry point of a shard's syncer thread (see wal-syncer.ts): waits for a request in shared
 * memory, makes every write so far durable with one synced empty batch, answers, repeats; stops
 * when the shard raises the stop flag. It shares the shard's open database and never closes it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RocksLevel } from '@nxtedition/rocksdb';
import { STATE, STOP, SyncerState, type FromSyncer, type WalSyncerData } from './wal-syncer-control.js';
import { nameThisThread } from '../common/thread-cpu.js';

const port = parentPort;
if (port === null) throw new Error('wal-syncer-thread.js must run in a worker thread');
const data = workerData as WalSyncerData;
nameThisThread(data.name);
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
for (;;) {
  // Blocks this thread only: it has nothing else to do.
  Atomics.wait(requested, 0, synced);
  if (Atomics.load(flags, STOP) === 1) break;
  const through = Atomics.load(requested, 0);
  if (through === synced) continue;
  try {
    empty._writeSync({ sync: true });
  } catch (err) {
    post({ t: 'failed', message: (err as Error).message });
    break;
  }
  synced = through;
  post({ t: 'durable', through: Number(through) });
}
Atomics.store(flags, STATE, SyncerState.Stopped);
Atomics.notify(flags, STATE);
