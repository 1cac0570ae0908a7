/**
 * A small CBOR reader (RFC 8949) for the subset clients write: maps with short ASCII text keys,
 * arrays, text, byte strings, integers, float64, true/false/null/undefined. It returns what the
 * broker's cbor-x decoder (codec.ts: maps as objects, int64 as numbers, byte strings as views)
 * returns for the same bytes, faster for the frames the broker reads most: a sendBatch of 100
 * entries is 100 `{body}` maps, and cbor-x made a key string per entry (`readString`) and stored
 * it by name, which with the rest of its decoding was a third of the main thread in publish ×16.
 * Here a key of up to 23 bytes is matched against the keys seen lately and the same string is
 * reused, so every `{body}` map gets one shape.
 *
 * Anything outside the subset (tags, indefinite lengths, half and single floats, simple values
 * other than those four, non-text or `__proto__` keys, text that is not ASCII: cbor-x's own UTF-8
 * decoding is what callers have always seen) returns undefined and the caller decodes the whole
 * message with cbor-x instead: a fast path, never a second dialect. Malformed input (cut short,
 * lengths past the end) also returns undefined, so cbor-x reports it as it always did.
 */
import { FLOAT64_INFO, NOT_SIMPLE, simpleValue } from './cbor-simple.js';

/** Thrown inside the reader when the input leaves the subset; never escapes this module. */
const OUTSIDE = new Error('outside the subset');

/** Keys of fewer than 24 bytes seen lately, by a hash of their bytes (a power of two). */
const KEY_SLOTS = 256;

interface CachedKey {
  bytes: Uint8Array;
  text: string;
}

interface Latin1Slicing {
  latin1Slice(start: number, end: number): string;
}

class Reader {
  pos = 0;
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  readonly #keys: Array<CachedKey | undefined>;

  constructor(buf: Uint8Array, keys: Array<CachedKey | undefined>) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#keys = keys;
  }

  get length(): number {
    return this.#buf.length;
  }

  #need(end: number): void {
    if (end > this.#buf.length) throw OUTSIDE;
  }

  /** The argument of a head (additional info `info`), in the forms cbor-x reads as numbers. */
  #arg(info: number): number {
    if (info < 24) return info;
    const p = this.pos;
    const v = this.#view;
    switch (info) {
      case 24:
        this.#need(p + 1);
        this.pos = p + 1;
        return this.#buf[p]!;
      case 25:
        this.#need(p + 2);
        this.pos = p + 2;
        return v.getUint16(p);
      case 26:
        this.#need(p + 4);
        this.pos = p + 4;
        return v.getUint32(p);
      case 27:
        this.#need(p + 8);
        this.pos = p + 8;
        // As codec.ts's int64AsNumber reads it: a number, exact below 2^53.
        return v.getUint32(p) * 0x1_0000_0000 + v.getUint32(p + 4);
      default:
        throw OUTSIDE; // indefinite length or reserved
    }
  }

  /** ASCII text of n bytes at pos (anything else goes to cbor-x). */
  #ascii(n: number): string {
    const p = this.pos;
    this.#need(p + n);
    const b = this.#buf;
    for (let i = p; i < p + n; i++) if (b[i]! >= 0x80) throw OUTSIDE;
    this.pos = p + n;
    return (Buffer.prototype as unknown as Latin1Slicing).latin1Slice.call(b, p, p + n);
  }

  /** A map key: text, the same string for the same short key (see the module comment). */
  #key(): string {
    const p = this.pos;
    this.#need(p + 1);
    const h = this.#buf[p]!;
    if (h >> 5 !== 3) throw OUTSIDE;
    const n = h & 31;
    if (n >= 24) {
      this.pos = p + 1;
      const k = this.#ascii(this.#arg(n));
      if (k === '__proto__') throw OUTSIDE;
      return k;
    }
    this.#need(p + 1 + n);
    const b = this.#buf;
    let hash = n;
    for (let i = 1; i <= n; i++) hash = (hash * 31 + b[p + i]!) | 0;
    const slot = hash & (KEY_SLOTS - 1);
    const cached = this.#keys[slot];
    if (cached !== undefined && cached.bytes.length === n) {
      let i = 0;
      while (i < n && cached.bytes[i] === b[p + 1 + i]) i++;
      if (i === n) {
        this.pos = p + 1 + n;
        return cached.text;
      }
    }
    this.pos = p + 1;
    const text = this.#ascii(n);
    if (text === '__proto__') throw OUTSIDE; // cbor-x takes it as data; leave that rare case to it
    this.#keys[slot] = { bytes: b.slice(p + 1, p + 1 + n), text };
    return text;
  }

  item(): unknown {
    const p = this.pos;
    this.#need(p + 1);
    const h = this.#buf[p]!;
    this.pos = p + 1;
    const info = h & 31;
    switch (h >> 5) {
      case 0:
        return this.#arg(info);
      case 1:
        return -1 - this.#arg(info);
      case 2: {
        const n = this.#arg(info);
        const start = this.pos;
        this.#need(start + n);
        this.pos = start + n;
        return this.#buf.subarray(start, start + n);
      }
      case 3:
        return this.#ascii(this.#arg(info));
      case 4: {
        const n = this.#arg(info);
        if (n > this.#buf.length - this.pos) throw OUTSIDE; // every item takes at least one byte
        const a = new Array<unknown>(n);
        for (let i = 0; i < n; i++) a[i] = this.item();
        return a;
      }
      case 5: {
        const n = this.#arg(info);
        if (n > this.#buf.length - this.pos) throw OUTSIDE;
        const o: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.#key();
          o[k] = this.item();
        }
        return o;
      }
      case 7: {
        if (info === FLOAT64_INFO) {
          const at = this.pos;
          this.#need(at + 8);
          this.pos = at + 8;
          return this.#view.getFloat64(at);
        }
        const value = simpleValue(info);
        if (value === NOT_SIMPLE) throw OUTSIDE;
        return value;
      }
      default:
        throw OUTSIDE; // tags
    }
  }
}

/** One cache of keys per thread that reads frames (the main thread's sessions share it). */
const keys = new Array<CachedKey | undefined>(KEY_SLOTS);

/**
 * The one CBOR item `bytes` holds, as codec.ts's view decoder returns it (byte strings are views
 * into `bytes`), or undefined when the bytes leave the subset or are malformed: then the caller
 * decodes with cbor-x. (No valid message decodes to undefined here: a lone `undefined` item is
 * outside what this returns; it goes to cbor-x too.)
 */
export function readSubset(bytes: Uint8Array): unknown {
  const r = new Reader(bytes, keys);
  try {
    const value = r.item();
    if (r.pos !== r.length || value === undefined) return undefined; // trailing bytes: cbor-x judges
    return value;
  } catch (err) {
    if (err !== OUTSIDE) throw err;
    return undefined;
  }
}
