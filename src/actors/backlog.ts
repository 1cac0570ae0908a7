/**
 * The plain part of a queue's backlog, kept in columns instead of one object per message.
 *
 * A queue that piles up millions of messages holds, for most of them, nothing but "message `seq`,
 * sent at `sentAt`, `size` bytes, visible, never delivered": no attributes, no group, no ttl, its
 * body on disk. As a message object (with its id string, map entry and boxed numbers) that costs
 * a few hundred bytes; here it costs 12: chunks of typed arrays holding each entry's sequence and
 * send time as offsets from the chunk's first entry, and its size. Entries leave only from the
 * front (the actor turns the first one into a full message when it delivers, expires or moves it),
 * so the structure is a FIFO of fixed-size chunks: no copying when it grows, and memory is given
 * back a chunk at a time as it drains.
 */

/** Entries per chunk at most: 96 KiB of columns. */
const CHUNK = 8192;
/**
 * Entries of a backlog's first chunk; each further chunk doubles, up to CHUNK. With 10,000 queues
 * holding a few messages each, full-size chunks cost 960 MB of zeroed columns (and allocating them
 * was a fifth of a shard's CPU in the queues-10k load test); a short backlog now costs what it holds.
 */
const FIRST_CHUNK = 16;
/** Send-time offsets are Int32 milliseconds from the chunk's first entry (±24 days). */
const MAX_TIME_OFFSET = 0x7fff_ffff;
const MAX_SEQ_OFFSET = 0xffff_ffff;

export interface BacklogEntry {
  seq: number;
  sentAt: number;
  size: number;
}

class Chunk {
  readonly seqs: Uint32Array;
  readonly sent: Int32Array;
  readonly sizes: Uint32Array;
  head = 0;
  tail = 0;
  constructor(
    readonly seq0: number,
    readonly sent0: number,
    readonly capacity: number,
  ) {
    this.seqs = new Uint32Array(capacity);
    this.sent = new Int32Array(capacity);
    this.sizes = new Uint32Array(capacity);
  }

  /** Whether an entry fits this chunk: room left, and both offsets in range. */
  fits(seq: number, sentAt: number): boolean {
    if (this.tail === this.capacity) return false;
    const dt = sentAt - this.sent0;
    return seq - this.seq0 <= MAX_SEQ_OFFSET && dt <= MAX_TIME_OFFSET && dt >= -MAX_TIME_OFFSET;
  }
}

export class Backlog {
  /** Oldest first. Chunks leave from the front only, a chunk per up to CHUNK entries: an array is fine. */
  #chunks: Chunk[] = [];
  #length = 0;
  #lastSeq = -1;

  get length(): number {
    return this.#length;
  }

  /** Bytes of the columns allocated (12 per entry of room). */
  get columnBytes(): number {
    let n = 0;
    for (const c of this.#chunks) n += c.capacity * 12;
    return n;
  }

  /** Appends an entry; sequences must increase. */
  push(seq: number, sentAt: number, size: number): void {
    if (!(seq > this.#lastSeq)) throw new RangeError(`backlog sequence ${seq} is not above the last one (${this.#lastSeq})`);
    if (!Number.isInteger(size) || size < 0 || size > 0xffff_ffff) throw new RangeError(`backlog entry size ${size} is out of range`);
    let c = this.#chunks.at(-1);
    if (c === undefined || !c.fits(seq, sentAt)) {
      c = new Chunk(seq, sentAt, c === undefined ? FIRST_CHUNK : Math.min(CHUNK, c.capacity * 2));
      this.#chunks.push(c);
    }
    const i = c.tail++;
    c.seqs[i] = seq - c.seq0;
    c.sent[i] = sentAt - c.sent0;
    c.sizes[i] = size;
    this.#lastSeq = seq;
    this.#length++;
  }

  /** Sequence of the first entry, or undefined when empty. */
  peekSeq(): number | undefined {
    const c = this.#chunks[0];
    return c === undefined ? undefined : c.seq0 + c.seqs[c.head]!;
  }

  /** Send time of the first entry, or undefined when empty. */
  peekSentAt(): number | undefined {
    const c = this.#chunks[0];
    return c === undefined ? undefined : c.sent0 + c.sent[c.head]!;
  }

  shift(): BacklogEntry | undefined {
    const c = this.#chunks[0];
    if (c === undefined) return undefined;
    const i = c.head++;
    const entry = { seq: c.seq0 + c.seqs[i]!, sentAt: c.sent0 + c.sent[i]!, size: c.sizes[i]! };
    if (c.head === c.tail) this.#chunks.shift(); // drained (a chunk that is still filling is the last one; it goes too)
    this.#length--;
    return entry;
  }

  clear(): void {
    this.#chunks = [];
    this.#length = 0;
  }
}
