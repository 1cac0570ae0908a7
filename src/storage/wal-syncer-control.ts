/**
 * What the shard and its syncer thread share (wal-syncer.ts): the layout of the control block in
 * shared memory and the messages the syncer sends. A module of its own so that the syncer thread
 * loads nothing else of the broker (its memory stays small).
 */

/** Shared control block: [requested write number: int64][stop flag: int32][state: int32]. */
export const CONTROL_BYTES = 16;
/** Int32 indexes into the control block. */
export const STOP = 2;
export const STATE = 3;
export const SyncerState = { Starting: 0, Running: 1, Stopped: 2 } as const;

export interface WalSyncerData {
  handle: bigint;
  control: SharedArrayBuffer;
  /** The thread's name, for the kernel too (thread-cpu.ts nameThisThread). */
  name: string;
}

export type FromSyncer = { t: 'ready' } | { t: 'durable'; through: number } | { t: 'failed'; message: string };
