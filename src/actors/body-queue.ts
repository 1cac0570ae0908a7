/**
 * Bodies of a queue's compact backlog (backlog.ts) kept in memory, oldest first, packed back to
 * back in chunks instead of one object per message.
 *
 * A cached body used to keep its message a full object (BodyCache's CACHED_BODY_OVERHEAD, ~384
 * bytes a message), so the shard's 32 MiB held about 52,000 bodies of 256 bytes; a consumer
 * draining a longer queue read the rest back from RocksDB (profiled in consume ×1: the largest
 * item of the shard worker, ~3 µs a message). Here a body costs its bytes plus an entry in two
 * number arrays (QUEUED_BODY_OVERHEAD), and the message stays a byte of the backlog until it is
 * delivered: the same budget holds about twice as many bodies, and a send no longer keeps a
 * message object alive for them.
 *
 * Entries leave in sequence order only, as backlog entries do: `take(seq)` is called when the
 * backlog's first entry (sequence `seq`) becomes a full message, and answers its body if it was
 * kept. Chunks grow from 1 KiB to 256 KiB (a queue holding a few messages holds a few bytes) and
 * go as soon as their last body is taken; a body handed out is a view into its chunk, which it
 * keeps alive while its message is leased.
 */
import { QUEUED_BODY_OVERHEAD, type BodyCache } from './ports.js';

const MIN_CHUNK = 1024;
const MAX_CHUNK = 256 * 1024;

interface Chunk {
  bytes: Uint8Array;
  /** Bytes written. */
  used: number;
  /** Sequence of each body, and the offset where it ends, in order. */
  seqs: number[];
  ends: number[];
  /** Index of the first body not taken yet. */
  head: number;
}

export class BodyQueue {
  #chunks: Chunk[] = [];
  #length = 0;

  constructor(readonly cache: BodyCache) {}

  /** Bodies kept. */
  get length(): number {
    return this.#length;
  }

  /**
   * Keeps a copy of `body` for message `seq` (sequences increase) if the shard's body cache has
   * room for it; returns whether it did.
   */
  push(seq: number, body: Uint8Array): boolean {
    const size = body.byteLength;
    if (!this.cache.admit(size, QUEUED_BODY_OVERHEAD)) return false;
    let c = this.#chunks.at(-1);
    if (c === undefined || c.used + size > c.bytes.byteLength) {
      const grown = c === undefined ? MIN_CHUNK : Math.min(MAX_CHUNK, c.bytes.byteLength * 2);
      c = { bytes: new Uint8Array(Math.max(size, grown)), used: 0, seqs: [], ends: [], head: 0 };
      this.#chunks.push(c);
    }
    c.bytes.set(body, c.used);
    c.used += size;
    c.seqs.push(seq);
    c.ends.push(c.used);
    this.#length++;
    return true;
  }

  /**
   * The body of message `seq` (a view into its chunk), taken out and released from the cache; or
   * undefined when it was not kept. Bodies of earlier sequences still here are dropped.
   */
  take(seq: number): Uint8Array | undefined {
    for (let c = this.#chunks[0]; c !== undefined; c = this.#chunks[0]) {
      const i = c.head;
      const s = c.seqs[i]!;
      if (s > seq) return undefined;
      const start = i === 0 ? 0 : c.ends[i - 1]!;
      const end = c.ends[i]!;
      c.head = i + 1;
      this.#length--;
      if (c.head === c.seqs.length) this.#chunks.shift();
      this.cache.release(end - start, QUEUED_BODY_OVERHEAD);
      if (s === seq) return c.bytes.subarray(start, end);
    }
    return undefined;
  }

  /** Drops every body kept (their backlog entries went too), released from the cache. */
  clear(): void {
    for (const c of this.#chunks) {
      for (let i = c.head; i < c.seqs.length; i++) this.cache.release(c.ends[i]! - (i === 0 ? 0 : c.ends[i - 1]!), QUEUED_BODY_OVERHEAD);
    }
    this.#chunks = [];
    this.#length = 0;
  }
}
