// Minimal declarations for @nxtedition/rocksdb (it ships none): only what src/storage uses.
declare module '@nxtedition/rocksdb' {
  export interface ChainedBatch {
    put(key: Buffer, value: Uint8Array): this;
    del(key: Buffer): this;
    /** The binding's put: checks, then copies key and value into the native batch (no encodings, no op record). */
    _put(key: Buffer, value: Buffer): void;
    _del(key: Buffer): void;
    /** Empties the native batch (it stays open, attached to its database, and may be written again). */
    _clear(): void;
    readonly length: number;
    write(options: { sync: boolean }): Promise<void>;
    /** Synchronous write (this binding writes synchronously anyway). */
    _writeSync(options: { sync: boolean }): void;
    close(): Promise<void>;
    /** Frees the batch now and detaches it from the database on the next tick. */
    close(callback: (err?: Error) => void): void;
  }
  export interface Iterator {
    nextv(size: number): Promise<Array<[Buffer, Buffer]>>;
    /** Synchronous: rows are flat [key, value, key, value, ...]. */
    _nextvSync(size: number): { rows: Buffer[]; finished: boolean };
    _closeSync(): void;
    close(): Promise<void>;
  }
  export interface RangeOptions {
    gt?: Buffer; gte?: Buffer; lt?: Buffer; lte?: Buffer;
  }
  export class RocksLevel {
    /**
     * A directory to open, or the `handle` of a database another thread of this process opened:
     * then this object wraps that same open database (no second LOCK; binding.cc `db_init`), and
     * must never be closed (that would close the database under its owner).
     */
    constructor(location: string | bigint, options?: { keyEncoding?: 'buffer'; valueEncoding?: 'buffer' });
    /** The native database pointer, valid in every thread of this process while the owner keeps it open. */
    readonly handle: bigint;
    readonly status: 'opening' | 'open' | 'closing' | 'closed';
    open(options?: {
      createIfMissing?: boolean; errorIfExists?: boolean; infoLogLevel?: string | null;
      /** 'level' | 'universal': sets write buffers from memtableMemoryBudget (binding.cc InitOptions). */
      compaction?: 'level' | 'universal'; memtableMemoryBudget?: number;
      /** Index and filter blocks in the block cache (bounded by it) instead of held per open table. */
      cacheIndexAndFilterBlocks?: boolean;
      /** ZSTD on every WAL record; the binding's default is true (binding.cc db_open). */
      walCompression?: boolean;
    }): Promise<void>;
    close(): Promise<void>;
    batch(): ChainedBatch;
    iterator(options: RangeOptions & { keys?: boolean; values?: boolean; keyEncoding?: 'buffer'; valueEncoding?: 'buffer' }): Iterator;
    clear(options: RangeOptions): Promise<void>;
    _getManySync(keys: Buffer[], options?: { valueEncoding?: 'buffer' }): Array<Buffer | undefined>;
  }
}
