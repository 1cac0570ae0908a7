/**
 * The plain part of a queue's backlog, kept as bytes instead of one object per message.
 *
 * A queue that piles up millions of messages holds, for most of them, nothing but "message `seq`,
 * sent at `sentAt`, `size` bytes, visible, never delivered": no attributes, no group, no ttl, its
 * body on disk. As a message object (with its id string, map entry and boxed numbers) that costs
 * a few hundred bytes. Entries leave only from the front (the actor turns the first one into a
 * full message when it delivers, expires or moves it), so nothing needs random access: each entry
 * is written as its difference from the entry before it, and read back in the same order.
 *
 *   one byte 0x00–0x7f  the common case: sequence = previous + 1, same size as the previous entry,
 *                       sent 0–127 ms after it (the byte is that difference)
 *   0x80, then three varints (7 bits a byte, low bits first): sequence − previous (≥ 1),
 *                       zigzag(send time − previous), size
 *
 * A burst of sends of one size costs one byte a message (10 million: 10 MB; the columns before
 * this cost 12 bytes a message, issue 5's memory figures). The bytes live in chunks that grow from
 * 64 bytes to 64 KiB (a queue holding a few messages holds a few bytes) and are given back a chunk
 * at a time as the backlog drains.
 */

const MIN_CHUNK = 64;
const MAX_CHUNK = 64 * 1024;
/** The longest entry: the marker and three varints of at most 8 bytes (values < 2^56). */
const MAX_ENTRY = 1 + 8 + 8 + 8;
const FULL_ENTRY = 0x80;
/** Send times are integers within ±2^51 ms (zigzagged differences stay below 2^53, exact in a double). */
const MAX_TIME = 2 ** 51;

export interface BacklogEntry {
  seq: number;
  sentAt: number;
  size: number;
}

interface Chunk {
  bytes: Uint8Array;
  /** Offset of the first unread entry. */
  head: number;
  /** Offset where the next entry is written. */
  tail: number;
}

export class Backlog {
  /** Oldest first. Chunks leave from the front only, and there are few (64 KiB each): an array is fine. */
  #chunks: Chunk[] = [];
  #length = 0;
  /** The last entry pushed: the next one is written as its difference from it. */
  #last: BacklogEntry = { seq: -1, sentAt: 0, size: -1 };
  /** The first entry, decoded (meaningful while length > 0), and how many bytes it takes. */
  readonly #first: BacklogEntry = { seq: -1, sentAt: 0, size: -1 };
  #firstBytes = 0;

  get length(): number {
    return this.#length;
  }

  /** Bytes held by the chunks (their capacity), for tests and memory accounting. */
  get capacityBytes(): number {
    let n = 0;
    for (const c of this.#chunks) n += c.bytes.byteLength;
    return n;
  }

  /** Appends an entry; sequences must increase, send times be integers within ±2^51, sizes in 0..2^32−1. */
  push(seq: number, sentAt: number, size: number): void {
    const last = this.#last;
    if (!Number.isSafeInteger(seq) || !(seq > last.seq)) throw new RangeError(`backlog sequence ${seq} is not an integer above the last one (${last.seq})`);
    if (!Number.isInteger(size) || size < 0 || size > 0xffff_ffff) throw new RangeError(`backlog entry size ${size} is out of range`);
    if (!Number.isInteger(sentAt) || Math.abs(sentAt) >= MAX_TIME) throw new RangeError(`backlog send time ${sentAt} is not an integer within ±2^51`);
    const c = this.#room();
    const dt = sentAt - last.sentAt;
    const start = c.tail;
    let at = start;
    if (seq === last.seq + 1 && size === last.size && dt >= 0 && dt < FULL_ENTRY) {
      c.bytes[at++] = dt;
    } else {
      c.bytes[at++] = FULL_ENTRY;
      at = writeVarint(c.bytes, at, seq - last.seq);
      at = writeVarint(c.bytes, at, dt >= 0 ? 2 * dt : -2 * dt - 1);
      at = writeVarint(c.bytes, at, size);
    }
    c.tail = at;
    last.seq = seq;
    last.sentAt = sentAt;
    last.size = size;
    if (this.#length++ === 0) {
      // An empty backlog has no chunk left (shift drops drained ones): this entry opens a new one.
      // #first is never handed out (shift returns a copy): set in place, not a new object each
      // time a queue goes from empty to not (with 10,000 queues, most first sends of a turn).
      const first = this.#first;
      first.seq = seq;
      first.sentAt = sentAt;
      first.size = size;
      this.#firstBytes = at - start;
    }
  }

  /** Sequence of the first entry, or undefined when empty. */
  peekSeq(): number | undefined {
    return this.#length === 0 ? undefined : this.#first.seq;
  }

  /** Send time of the first entry, or undefined when empty. */
  peekSentAt(): number | undefined {
    return this.#length === 0 ? undefined : this.#first.sentAt;
  }

  /** The first entry, or undefined when empty: valid until the next push, drop or shift (copy what you keep). */
  peek(): Readonly<BacklogEntry> | undefined {
    return this.#length === 0 ? undefined : this.#first;
  }

  /**
   * Removes the first entry (none: nothing happens). The actor reads it with `peek` first: one
   * object fewer per delivered message than `shift`.
   */
  drop(): void {
    if (this.#length === 0) return;
    let c = this.#chunks[0]!;
    c.head += this.#firstBytes;
    this.#length--;
    if (c.head === c.tail) {
      // Drained. The last chunk goes too when empty: the next push starts a small one again.
      this.#chunks.shift();
      c = this.#chunks[0]!;
    }
    if (this.#length > 0) this.#decodeNext(c);
  }

  clear(): void {
    this.#chunks = [];
    this.#length = 0;
    this.#last = { seq: this.#last.seq, sentAt: 0, size: -1 }; // sequences keep increasing after a clear (purge)
  }

  /** The chunk the next entry goes into, with room for the longest entry. */
  #room(): Chunk {
    let c = this.#chunks.at(-1);
    if (c !== undefined && c.tail + MAX_ENTRY <= c.bytes.byteLength) return c;
    if (c !== undefined && c.bytes.byteLength < MAX_CHUNK) {
      // Grow the last chunk (dropping what was read from it) rather than start a small one.
      const bytes = new Uint8Array(Math.min(MAX_CHUNK, c.bytes.byteLength * 2));
      bytes.set(c.bytes.subarray(c.head, c.tail));
      c.tail -= c.head;
      c.head = 0;
      c.bytes = bytes;
      return c;
    }
    c = { bytes: new Uint8Array(c === undefined ? MIN_CHUNK : MAX_CHUNK), head: 0, tail: 0 };
    this.#chunks.push(c);
    return c;
  }

  /** Decodes the entry at the head of `c` into #first, which holds the entry before it. */
  #decodeNext(c: Chunk): void {
    const b = c.bytes;
    const first = this.#first;
    const marker = b[c.head]!;
    if (marker < FULL_ENTRY) {
      first.seq += 1;
      first.sentAt += marker;
      this.#firstBytes = 1;
      return;
    }
    const r = reader;
    r.at = c.head + 1;
    first.seq += r.varint(b);
    const z = r.varint(b);
    first.sentAt += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    first.size = r.varint(b);
    this.#firstBytes = r.at - c.head;
  }
}

function writeVarint(b: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    b[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  b[at++] = v;
  return at;
}

/** Reads varints from a position it advances (one shared instance: no allocation per entry). */
const reader = {
  at: 0,
  varint(b: Uint8Array): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const byte = b[this.at++]!;
      v += (byte & 0x7f) * scale;
      if (byte < 0x80) return v;
      scale *= 0x80;
    }
  },
};
