/**
 * What the shard and its syncer thread share (wal-syncer.ts): the layout of the control block in
 * shared memory and the messages the syncer sends. A module of its own so that the syncer thread
 * loads nothing else of the broker (its memory stays small).
 */
import type { MessagePort } from 'node:worker_threads';

/**
 * Shared control block: [requested write number: int64][stop flag: int32][state: int32]
 * [synced write number: int64][report wanted: int32][unused: int32].
 */
export const CONTROL_BYTES = 32;
/** Int32 indexes into the control block. */
export const STOP = 2;
export const STATE = 3;
export const WANT_REPORT = 6;
/** BigInt64 index of the synced write number (the requested one is at 0). */
export const SYNCED = 2;
export const SyncerState = { Starting: 0, Running: 1, Stopped: 2 } as const;

export interface WalSyncerData {
  handle: bigint;
  control: SharedArrayBuffer;
  /** Where every sync's write number goes as it completes (the main thread's end: shard-pool.ts). */
  reports: MessagePort;
}

export type FromSyncer = { t: 'ready' } | { t: 'durable'; through: number } | { t: 'failed'; message: string };
