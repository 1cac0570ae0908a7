/**
 * Decoding of the server's WebSocket messages in the client. A consumer's CPU goes mostly into
 * reading pushes (profiled in the load generator: cbor-x decoding and the copy of every body were
 * about a third of its time), so the frames the server writes most are read here by a small CBOR
 * reader (RFC 8949) that knows their layout: a frame or an array of frames, pushes
 * `{sub, messages: [...]}` whose messages are maps with the fields of a delivered message (the
 * shard writes them with protocol/cbor-writer.ts). Known keys are matched as bytes, so no key
 * string is made, and every message object gets the same shape.
 *
 * Bodies are views into the received message, not copies (the WebSocket library hands over a
 * buffer nobody reuses); a body kept longer keeps that message's buffer alive.
 *
 * Anything outside the subset this reader knows (tags, indefinite lengths, half- and single-precision floats,
 * keys that are not text, an unknown message field with such a value) makes the whole message go
 * to cbor-x instead, with the same result: this is a fast path, never a second dialect.
 */
import { decodeOwnedFrame } from '../protocol/codec.js';
import type { DeliveredMessage } from '../protocol/ops.js';
import { FLOAT64_INFO, NOT_SIMPLE, simpleValue } from '../protocol/cbor-simple.js';

/** Thrown inside the reader when the input leaves the subset; never escapes this module. */
const OUTSIDE = new Error('outside the fast subset');

const KEY_OK = bytesOf('ok');
const KEY_SUB = bytesOf('sub');
const KEY_MESSAGES = bytesOf('messages');
const KEY_MESSAGE_ID = bytesOf('messageId');
const KEY_RECEIPT = bytesOf('receipt');
const KEY_BODY = bytesOf('body');
const KEY_SEQ = bytesOf('seq');
const KEY_RECEIVE_COUNT = bytesOf('receiveCount');
const KEY_SENT_AT = bytesOf('sentAt');
const KEY_FIRST_RECEIVED_AT = bytesOf('firstReceivedAt');
/** The fields every delivered message has (protocol/cbor-writer.ts writes them first, in this order). */
const REQUIRED_FIELDS = 7;

/** Map keys of fewer than 24 bytes seen lately, by a hash of their bytes (see Reader.mapKey). */
const KEYS = new Array<{ bytes: Uint8Array; text: string } | undefined>(256);

function bytesOf(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

interface Utf8Slicing {
  utf8Slice(start: number, end: number): string;
}

class Reader {
  pos = 0;
  readonly view: DataView;
  constructor(readonly buf: Buffer) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** The argument of a head whose major type the caller checked (additional info < 28). */
  arg(info: number): number {
    if (info < 24) return info;
    const p = this.pos;
    switch (info) {
      case 24:
        this.pos = p + 1;
        return this.byte(p);
      case 25:
        this.need(p + 2);
        this.pos = p + 2;
        return this.view.getUint16(p);
      case 26:
        this.need(p + 4);
        this.pos = p + 4;
        return this.view.getUint32(p);
      case 27: {
        this.need(p + 8);
        this.pos = p + 8;
        // As the SDK's cbor-x options read it (int64AsNumber): a number, exact below 2^53.
        return this.view.getUint32(p) * 0x1_0000_0000 + this.view.getUint32(p + 4);
      }
      default:
        throw OUTSIDE; // indefinite length or reserved
    }
  }

  byte(p: number): number {
    if (p >= this.buf.length) throw OUTSIDE;
    return this.buf[p]!;
  }

  need(end: number): void {
    if (end > this.buf.length) throw OUTSIDE;
  }

  /** Whether the next item is the text string `key` (consumed if so). */
  key(key: Uint8Array): boolean {
    const p = this.pos;
    const n = key.length;
    if (this.byte(p) !== (0x60 | n) || n >= 24) return false;
    this.need(p + 1 + n);
    const b = this.buf;
    for (let i = 0; i < n; i++) if (b[p + 1 + i] !== key[i]) return false;
    this.pos = p + 1 + n;
    return true;
  }

  /** The length of the text string that comes next, or -1 if something else comes. */
  textLength(): number {
    const h = this.byte(this.pos);
    if (h >> 5 !== 3) return -1;
    this.pos++;
    return this.arg(h & 31);
  }

  text(): string {
    const n = this.textLength();
    if (n < 0) throw OUTSIDE;
    return this.textOf(n);
  }

  textOf(n: number): string {
    const p = this.pos;
    this.need(p + n);
    this.pos = p + n;
    return (this.buf as unknown as Utf8Slicing).utf8Slice(p, p + n);
  }

  /**
   * A map key: short ones come from KEYS, so the same key is the same string every time (no
   * string made per key, and property stores see one name: a reply of 100 sendBatch results has
   * 300 keys).
   */
  mapKey(): string {
    const p = this.pos;
    const h = this.byte(p);
    const n = h - 0x60;
    if (n < 0 || n >= 24) return this.text();
    this.need(p + 1 + n);
    const b = this.buf;
    let hash = n;
    for (let i = 1; i <= n; i++) hash = (hash * 31 + b[p + i]!) | 0;
    const slot = hash & (KEYS.length - 1);
    const cached = KEYS[slot];
    this.pos = p + 1 + n;
    if (cached !== undefined && cached.bytes.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (cached.bytes[i] !== b[p + 1 + i]) {
          same = false;
          break;
        }
      }
      if (same) return cached.text;
    }
    const text = (b as unknown as Utf8Slicing).utf8Slice(p + 1, p + 1 + n);
    KEYS[slot] = { bytes: Buffer.from(b.subarray(p + 1, p + 1 + n)), text };
    return text;
  }

  /** Any item of the subset: maps with text keys (objects), arrays, text, bytes (views), numbers, simple values. */
  item(): unknown {
    const h = this.byte(this.pos++);
    const info = h & 31;
    switch (h >> 5) {
      case 0:
        return this.arg(info);
      case 1:
        return -1 - this.arg(info);
      case 2: {
        const n = this.arg(info);
        const p = this.pos;
        this.need(p + n);
        this.pos = p + n;
        return this.buf.subarray(p, p + n);
      }
      case 3:
        return this.textOf(this.arg(info));
      case 4: {
        const n = this.arg(info);
        if (n > this.buf.length - this.pos) throw OUTSIDE; // every item takes at least one byte
        const a = new Array<unknown>(n);
        for (let i = 0; i < n; i++) a[i] = this.item();
        return a;
      }
      case 5: {
        const n = this.arg(info);
        // The entries of batch results (a sendBatch's `{ok: {messageId, seq}}`, a deleteBatch's
        // `{ok: {deleted}}`) as literals: one shape each, made without a keyed store per field.
        if (n === 1 && this.key(KEY_OK)) return { ok: this.item() };
        if (n === 2 && this.key(KEY_MESSAGE_ID)) {
          const messageId = this.item();
          if (this.key(KEY_SEQ)) return { messageId, seq: this.item() };
          const k = this.mapKey();
          if (k === '__proto__') throw OUTSIDE;
          const o: Record<string, unknown> = { messageId };
          o[k] = this.item();
          return o;
        }
        const o: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.mapKey();
          // cbor-x's objects take a '__proto__' key as data; leave that rare case to it.
          if (k === '__proto__') throw OUTSIDE;
          o[k] = this.item();
        }
        return o;
      }
      case 7: {
        if (info === FLOAT64_INFO) {
          const p = this.pos;
          this.need(p + 8);
          this.pos = p + 8;
          return this.view.getFloat64(p);
        }
        const value = simpleValue(info);
        if (value === NOT_SIMPLE) throw OUTSIDE;
        return value;
      }
      default:
        throw OUTSIDE; // tags
    }
  }

  /**
   * A delivered message; unknown or optional fields are read as any item. A message of exactly
   * the seven required fields in the order the server writes them (protocol/cbor-writer.ts) is
   * read with each key compared once (`inOrder`); any other is read key by key.
   */
  message(): DeliveredMessage {
    const h = this.byte(this.pos++);
    if (h >> 5 !== 5) throw OUTSIDE;
    const n = this.arg(h & 31);
    if (n === REQUIRED_FIELDS) {
      const m = this.inOrder();
      if (m !== undefined) return m;
    }
    let messageId: unknown;
    let receipt: unknown;
    let body: unknown;
    let seq: unknown;
    let receiveCount: unknown;
    let sentAt: unknown;
    let firstReceivedAt: unknown;
    let rest: Record<string, unknown> | undefined;
    for (let i = 0; i < n; i++) {
      if (this.key(KEY_MESSAGE_ID)) messageId = this.item();
      else if (this.key(KEY_RECEIPT)) receipt = this.item();
      else if (this.key(KEY_BODY)) body = this.item();
      else if (this.key(KEY_SEQ)) seq = this.item();
      else if (this.key(KEY_RECEIVE_COUNT)) receiveCount = this.item();
      else if (this.key(KEY_SENT_AT)) sentAt = this.item();
      else if (this.key(KEY_FIRST_RECEIVED_AT)) firstReceivedAt = this.item();
      else {
        const k = this.text();
        if (k === '__proto__') throw OUTSIDE;
        (rest ??= {})[k] = this.item();
      }
    }
    // Every message gets one shape; one that lacks a field (the server writes them all) goes to cbor-x.
    if (messageId === undefined || receipt === undefined || body === undefined || seq === undefined || receiveCount === undefined
      || sentAt === undefined || firstReceivedAt === undefined) throw OUTSIDE;
    const m = { messageId, receipt, body, seq, receiveCount, sentAt, firstReceivedAt } as Record<string, unknown>;
    if (rest !== undefined) Object.assign(m, rest);
    return m as unknown as DeliveredMessage;
  }

  /**
   * The seven required fields in the server's order, each key compared once; undefined (and the
   * position back at the first key) as soon as a key is another, for `message` to read key by key.
   */
  inOrder(): DeliveredMessage | undefined {
    const start = this.pos;
    if (!this.key(KEY_MESSAGE_ID)) return undefined;
    const messageId = this.item();
    if (!this.key(KEY_RECEIPT)) return this.#back(start);
    const receipt = this.item();
    if (!this.key(KEY_BODY)) return this.#back(start);
    const body = this.item();
    if (!this.key(KEY_SEQ)) return this.#back(start);
    const seq = this.item();
    if (!this.key(KEY_RECEIVE_COUNT)) return this.#back(start);
    const receiveCount = this.item();
    if (!this.key(KEY_SENT_AT)) return this.#back(start);
    const sentAt = this.item();
    if (!this.key(KEY_FIRST_RECEIVED_AT)) return this.#back(start);
    const firstReceivedAt = this.item();
    // A field whose value is CBOR undefined: `message` sends the whole message to cbor-x.
    if (messageId === undefined || receipt === undefined || body === undefined || seq === undefined || receiveCount === undefined
      || sentAt === undefined || firstReceivedAt === undefined) return this.#back(start);
    return { messageId, receipt, body, seq, receiveCount, sentAt, firstReceivedAt } as unknown as DeliveredMessage;
  }

  /** Back to `start` (inOrder gives up): undefined. */
  #back(start: number): undefined {
    this.pos = start;
    return undefined;
  }

  /** A frame: a push read with `message()`, any other frame with `item()`. */
  frame(): unknown {
    const start = this.pos;
    if (this.byte(start) === 0xa2 && (this.pos++, this.key(KEY_SUB))) {
      const sub = this.item();
      if (this.key(KEY_MESSAGES)) {
        const h = this.byte(this.pos++);
        if (h >> 5 !== 4) throw OUTSIDE;
        const n = this.arg(h & 31);
        if (n > this.buf.length - this.pos) throw OUTSIDE;
        const messages = new Array<DeliveredMessage>(n);
        for (let i = 0; i < n; i++) messages[i] = this.message();
        return { sub, messages };
      }
    }
    this.pos = start;
    return this.item();
  }
}

/**
 * One WebSocket message from the server (a frame, or an array of frames) as cbor-x would decode it,
 * bodies as views into `bytes`. Throws on malformed CBOR.
 */
export function decodeServerMessage(bytes: Buffer): unknown {
  const r = new Reader(bytes);
  try {
    const h = r.byte(0);
    let value: unknown;
    if (h >> 5 === 4) {
      r.pos = 1;
      const n = r.arg(h & 31);
      if (n > bytes.length) throw OUTSIDE;
      const frames = new Array<unknown>(n);
      for (let i = 0; i < n; i++) frames[i] = r.frame();
      value = frames;
    } else {
      value = r.frame();
    }
    if (r.pos !== bytes.length) throw OUTSIDE; // trailing bytes: let cbor-x judge the message
    return value;
  } catch (err) {
    if (err !== OUTSIDE) throw err;
    return decodeOwnedFrame(bytes);
  }
}
