/**
 * Sends across the thread boundary (main → shard) in columns: every send and sendBatch the main
 * thread routes to one shard in one event-loop turn travels as ONE message of a few typed arrays
 * (bodies back to back, their end offsets, each request's number and entry count) and the queue
 * ids, instead of one cloned object tree per request. postMessage pays per object and per
 * ArrayBuffer it clones, on both threads (profiled in queues-10k, sendBatch of 10 bodies: packing
 * each request into buffers of its own plus cloning it were a quarter of the main thread), so a
 * turn's sends now cost a few clones whatever their number, and the typed arrays are transferred,
 * not copied. Only what is unusual (delay, attributes, ids, fields this module does not know)
 * travels as maps, so the queue model can grow fields without touching this module.
 * (The other direction, answers, travels as CBOR the shard encoded: protocol/encoded.ts.)
 */
import type { SendEntry } from '../protocol/ops.js';

/** A turn's sends for one shard. */
export interface PackedSends {
  t: 'sends';
  /** Every entry's body, back to back. */
  bytes: Uint8Array;
  /** End offset in `bytes` of each entry's body, entries of all requests in order. */
  ends: Uint32Array;
  /**
   * Two numbers per request: its number `r`, and its entry count; count 0 stands for a `send`
   * (one entry, answered as a send), n ≥ 1 for a sendBatch of n entries.
   */
  reqs: Float64Array;
  /** The queue id of each request. */
  qids: string[];
  /** Entries with fields besides `body`: [index among all entries of this message, the entry without its body]. */
  extras: Array<[number, Omit<SendEntry, 'body'>]> | undefined;
}

/** One request of a PackedSends, as the shard reads it back. */
export interface UnpackedSend {
  r: number;
  qid: string;
  /** `send` (one entry) or `sendBatch`. */
  single: boolean;
  entries: SendEntry[];
}

/** Whether an entry has fields besides its body (and, for a send's args, besides its queue name). */
function hasMoreThanBody(e: SendEntry, single: boolean): boolean {
  for (const key in e) if (key !== 'body' && !(single && key === 'queue') && (e as unknown as Record<string, unknown>)[key] !== undefined) return true;
  return false;
}

/** Collects sends for one shard during a turn; `take` packs them. */
export class SendPacker {
  #bodies: Uint8Array[] = [];
  #bytes = 0;
  #reqs: number[] = [];
  #qids: string[] = [];
  #extras: PackedSends['extras'];

  get size(): number {
    return this.#qids.length;
  }

  /** Messages collected (every entry of every request). */
  get entries(): number {
    return this.#bodies.length;
  }

  /** A `send` (single: its one entry) or a `sendBatch`. */
  add(r: number, qid: string, single: boolean, entries: readonly SendEntry[]): void {
    this.#reqs.push(r, single ? 0 : entries.length);
    this.#qids.push(qid);
    for (const e of entries) {
      if (hasMoreThanBody(e, single)) {
        const { body: _body, ...rest } = e;
        // A send's args carry its queue name too; the shard knows the queue by its id.
        if (single) delete (rest as { queue?: string }).queue;
        (this.#extras ??= []).push([this.#bodies.length, rest]);
      }
      this.#bodies.push(e.body);
      this.#bytes += e.body.byteLength;
    }
  }

  /** The collected sends as one message (its typed arrays own their buffers: transferable), and a fresh start. */
  take(): PackedSends {
    const bodies = this.#bodies;
    const bytes = new Uint8Array(this.#bytes);
    const ends = new Uint32Array(bodies.length);
    let offset = 0;
    for (let i = 0; i < bodies.length; i++) {
      const b = bodies[i]!;
      bytes.set(b, offset);
      offset += b.byteLength;
      ends[i] = offset;
    }
    const packed: PackedSends = { t: 'sends', bytes, ends, reqs: Float64Array.from(this.#reqs), qids: this.#qids, extras: this.#extras };
    this.#bodies = [];
    this.#bytes = 0;
    this.#reqs = [];
    this.#qids = [];
    this.#extras = undefined;
    return packed;
  }
}

/** The buffers of a PackedSends, for postMessage's transfer list. */
export function transferables(p: PackedSends): ArrayBuffer[] {
  return [p.bytes.buffer as ArrayBuffer, p.ends.buffer as ArrayBuffer, p.reqs.buffer as ArrayBuffer];
}

/** Calls `each` with the requests again, in order; bodies are views into `packed.bytes`. */
export function unpackSends(packed: PackedSends, each: (s: UnpackedSend) => void): void {
  const { bytes, ends, reqs, qids, extras } = packed;
  let entry = 0;
  let start = 0;
  let extra = 0;
  for (let i = 0; i < qids.length; i++) {
    const n = reqs[2 * i + 1]!;
    const count = n === 0 ? 1 : n;
    const entries = new Array<SendEntry>(count);
    for (let j = 0; j < count; j++, entry++) {
      const end = ends[entry]!;
      const body = bytes.subarray(start, end);
      start = end;
      if (extras !== undefined && extra < extras.length && extras[extra]![0] === entry) {
        // The body is set on the entry's extras object, not spread into a new one: in this V8 an
        // object spread with a property after it made a hidden class per object (shard-host.ts).
        const e = extras[extra++]![1] as SendEntry;
        e.body = body;
        entries[j] = e;
      } else entries[j] = { body };
    }
    each({ r: reqs[2 * i]!, qid: qids[i]!, single: n === 0, entries });
  }
}
