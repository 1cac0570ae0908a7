/**
 * Bodies of a queue's compact backlog (backlog.ts) kept in memory, oldest first, packed back to
 * back in chunks instead of one object per message.
 *
 * A cached body used to keep its message a full object (BodyCache's CACHED_BODY_OVERHEAD, ~384
 * bytes a message), so the shard's 32 MiB held about 52,000 bodies of 256 bytes; a consumer
 * draining a longer queue read the rest back from RocksDB (profiled in consume ×1: the largest
 * item of the shard worker, ~3 µs a message). Here a body costs its bytes plus a small header in
 * its chunk (QUEUED_BODY_OVERHEAD), and the message stays a byte of the backlog until it is
 * delivered: the same budget holds about twice as many bodies, and a send no longer keeps a
 * message object alive for them.
 *
 * Each body is written after an 8-byte header: its size, and its sequence minus the sequence of
 * the body before it in the chunk (0 for a chunk's first, whose sequence the chunk keeps). A chunk
 * is one object and one buffer: with a queue's sequences and ends in number arrays of their own,
 * a chunk was five objects and two growing backing stores, and in issue 5's queues-10k (10,000
 * queues, each touched a few times) those were most of what every first send to a queue left in
 * the young generation for the scavenger to copy and promote.
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
/** Size, then sequence difference: two unsigned 32-bit numbers, little-endian. */
const HEADER = 8;
const MAX_U32 = 0xffff_ffff;

interface Chunk {
  bytes: Uint8Array;
  /** Bytes written. */
  used: number;
  /** Offset of the header of the first body not taken yet (`used` when none is left). */
  head: number;
  /** Sequence of the body at `head`. */
  headSeq: number;
  /** Sequence of the last body written. */
  lastSeq: number;
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
    const need = HEADER + size;
    let c = this.#chunks.at(-1);
    if (c === undefined || c.used + need > c.bytes.byteLength || seq - c.lastSeq > MAX_U32) {
      const grown = c === undefined ? MIN_CHUNK : Math.min(MAX_CHUNK, c.bytes.byteLength * 2);
      c = { bytes: new Uint8Array(Math.max(need, grown)), used: 0, head: 0, headSeq: seq, lastSeq: seq };
      this.#chunks.push(c);
    }
    const b = c.bytes;
    const at = c.used;
    writeU32(b, at, size);
    writeU32(b, at + 4, seq - c.lastSeq);
    b.set(body, at + HEADER);
    c.used = at + need;
    c.lastSeq = seq;
    this.#length++;
    return true;
  }

  /**
   * The body of message `seq` (a view into its chunk), taken out and released from the cache; or
   * undefined when it was not kept. Bodies of earlier sequences still here are dropped.
   */
  take(seq: number): Uint8Array | undefined {
    for (let c = this.#chunks[0]; c !== undefined; c = this.#chunks[0]) {
      const s = c.headSeq;
      if (s > seq) return undefined;
      const b = c.bytes;
      const start = c.head + HEADER;
      const end = start + readU32(b, c.head);
      c.head = end;
      this.#length--;
      if (end === c.used) this.#chunks.shift();
      else c.headSeq = s + readU32(b, end + 4);
      this.cache.release(end - start, QUEUED_BODY_OVERHEAD);
      if (s === seq) return b.subarray(start, end);
    }
    return undefined;
  }

  /** Drops every body kept (their backlog entries went too), released from the cache. */
  clear(): void {
    for (const c of this.#chunks) {
      for (let at = c.head; at < c.used; at += HEADER + readU32(c.bytes, at)) this.cache.release(readU32(c.bytes, at), QUEUED_BODY_OVERHEAD);
    }
    this.#chunks = [];
    this.#length = 0;
  }
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
