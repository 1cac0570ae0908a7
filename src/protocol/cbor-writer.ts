/**
 * A small CBOR encoder (RFC 8949) for the plain values a shard answers with: maps of text keys,
 * arrays, text, byte strings, numbers, booleans, null. Numbers and text come out as cbor-x writes
 * them (integers up to 32 bits in their shortest form, other numbers as float64, byte strings
 * untagged); map heads take their shortest form (cbor-x always writes a 2-byte count). It caches
 * the encoded map keys and writes ASCII text without a UTF-8 encoder. Anything else (a Map, a
 * class instance) is encoded by cbor-x and copied in, so every value still encodes.
 *
 * Two shortcuts for what a shard writes once per message: delivered messages (pushes, receives)
 * are written field by field with their keys known (`encodeMessages`; `plainMessage` also writes
 * a receipt straight into the bytes, without a string), and a frozen object (the
 * shared `{ok: {deleted: true}}` of every ack) is encoded once and its bytes reused: it cannot
 * change, so its bytes cannot go stale.
 */
import { encodeFrame } from './codec.js';
import type { DeliveredMessage, SendResult } from './ops.js';

/** The fields of a delivered message, in the order they are written (required ones first). */
const MESSAGE_KEYS = ['messageId', 'receipt', 'body', 'seq', 'receiveCount', 'sentAt', 'firstReceivedAt',
  'attributes', 'groupId', 'timestamp', 'producer', 'late', 'deadLetter'] as const;
const REQUIRED_MESSAGE_KEYS = 7;
// Compile-time check: every field of DeliveredMessage is written (a new one must be added above).
type Unwritten = Exclude<keyof DeliveredMessage, (typeof MESSAGE_KEYS)[number]>;
const everyFieldWritten: [Unwritten] extends [never] ? true : Unwritten = true;
void everyFieldWritten;

const KEY_CACHE_MAX = 1024;

/**
 * From this size on, `take` hands over the writer's own buffer when the write fills at least half
 * of it, instead of copying it out: a shard's push of 500 messages (~180 kB) was copied into a
 * new, zeroed buffer only to be moved to the main thread (profiled: ~4% of a consuming shard
 * worker). Below it a copy is cheaper than a new buffer.
 */
const HAND_OVER_MIN_BYTES = 4096;

/**
 * A sendBatch entry's result, `{ok: {messageId, seq, …}}`, as a shard makes one per sent message:
 * the writer recognises it and writes the usual two-key result with its keys known, instead of
 * walking two maps (their keys counted, looked up, each value's type tested) per message. Any
 * other value of the class is an ordinary map to every encoder, here included.
 */
export class SendOk {
  constructor(readonly ok: SendResult) {}
}

/** `{"ok": {"messageId": ` up to the id's own text head. */
const SEND_OK_HEAD = Buffer.concat([Buffer.from([0xa1]), textItem('ok'), Buffer.from([0xa2]), textItem('messageId')]);
const SEQ_KEY = textItem('seq');

/**
 * Writes receipts, and message ids derived from the sequence, as ASCII text of a fixed length,
 * straight into a writer's buffer.
 */
export interface ReceiptWriter {
  readonly chars: number;
  /** The receipt of delivery (seq, receiveCount): exactly `chars` ASCII bytes at `at` (out has room). */
  writeReceipt(out: Uint8Array, at: number, seq: number, receiveCount: number): void;
  readonly idChars: number;
  /** The id of message `seq`: exactly `idChars` ASCII bytes at `at` (out has room). */
  writeId(out: Uint8Array, at: number, seq: number): void;
}

export class CborWriter {
  /** Never a slice of Node's buffer pool (allocUnsafeSlow): `take` may hand it over whole. */
  #buf = Buffer.allocUnsafeSlow(64 * 1024);
  #pos = 0;
  readonly #keys = new Map<string, Buffer>();
  /** Encoded frozen objects (see the module comment). */
  readonly #frozen = new WeakMap<object, Buffer>();
  readonly #messageKeys = MESSAGE_KEYS.map((k) => textItem(k));

  /** `value` as one CBOR data item, in a buffer of its own. */
  encode(value: unknown): Uint8Array {
    this.#pos = 0;
    this.#value(value);
    return new Uint8Array(this.#buf.subarray(0, this.#pos));
  }

  /**
   * Appends `value` as one CBOR data item after what was appended since the last `take`; returns
   * where it ends. Items appended this way leave together, one buffer for many (see `take`).
   */
  append(value: unknown): number {
    this.#value(value);
    return this.#pos;
  }

  /** Drops what was appended since the last `take`. */
  clear(): void {
    this.#pos = 0;
  }

  /**
   * Everything appended since the last `take`, in a buffer of its own (the view starts at its
   * offset 0, and nothing else uses it: a caller may transfer it to another thread); starts over.
   */
  take(): Uint8Array {
    const n = this.#pos;
    this.#pos = 0;
    const buf = this.#buf;
    if (n < HAND_OVER_MIN_BYTES || 2 * n < buf.length) return new Uint8Array(buf.subarray(0, n));
    this.#buf = Buffer.allocUnsafeSlow(buf.length);
    return new Uint8Array(buf.buffer, buf.byteOffset, n);
  }

  /** Delivered messages as one CBOR array (the same value `encode` writes, written faster). */
  encodeMessages(messages: readonly DeliveredMessage[]): Uint8Array {
    this.#pos = 0;
    this.#head(4, messages.length);
    for (const m of messages) this.#message(m);
    return new Uint8Array(this.#buf.subarray(0, this.#pos));
  }

  /**
   * The head of an array of `n` items, appended (as `append` does: `take` collects it). With
   * `message` and `plainMessage`, a caller writes delivered messages from records of its own.
   */
  arrayHead(n: number): void {
    this.#head(4, n);
  }

  /** A delivered message, appended as `encodeMessages` writes each one. */
  message(m: DeliveredMessage): void {
    this.#message(m);
  }

  /**
   * A delivered message without optional fields, appended; its receipt (and its id, when `id` is
   * undefined: the one derived from `seq`) is written by `receipt` straight into this writer's
   * bytes (no string per message). The same bytes as `message` of
   * `{messageId: <id>, receipt: <its text>, body, seq, receiveCount, sentAt, firstReceivedAt}`.
   */
  plainMessage(id: string | undefined, receipt: ReceiptWriter, body: Uint8Array, seq: number, receiveCount: number, sentAt: number, firstReceivedAt: number): void {
    if (id !== undefined) {
      // A stored id (a record of an earlier version): rare, written item by item.
      const keys = this.#messageKeys;
      this.#head(5, REQUIRED_MESSAGE_KEYS);
      this.#key(keys[0]!);
      this.#text(id);
      this.#plainRest(receipt, body, seq, receiveCount, sentAt, firstReceivedAt);
      return;
    }
    // One room check for the whole message (the most it can take), then every fixed run of bytes
    // (map head and first key; each later key) copied as one block: this runs once per pushed message.
    const idChars = receipt.idChars;
    const chars = receipt.chars;
    const size = body.byteLength;
    this.#room(PLAIN_FIXED_BYTES + idChars + chars + size);
    const b = this.#buf;
    let p = putBlock(b, this.#pos, PLAIN_HEAD);
    p = putHead(b, p, 3, idChars);
    receipt.writeId(b, p, seq);
    p = putBlock(b, p + idChars, RECEIPT_KEY);
    p = putHead(b, p, 3, chars);
    receipt.writeReceipt(b, p, seq, receiveCount);
    p = putBlock(b, p + chars, BODY_KEY);
    p = putHead(b, p, 2, size);
    b.set(body, p);
    p = putBlock(b, p + size, SEQ_KEY);
    p = putNumber(b, p, seq);
    p = putBlock(b, p, RECEIVE_COUNT_KEY);
    p = putNumber(b, p, receiveCount);
    p = putBlock(b, p, SENT_AT_KEY);
    p = putNumber(b, p, sentAt);
    p = putBlock(b, p, FIRST_RECEIVED_AT_KEY);
    this.#pos = putNumber(b, p, firstReceivedAt);
  }

  /** plainMessage from its receipt on, item by item. */
  #plainRest(receipt: ReceiptWriter, body: Uint8Array, seq: number, receiveCount: number, sentAt: number, firstReceivedAt: number): void {
    const keys = this.#messageKeys;
    this.#key(keys[1]!);
    const n = receipt.chars;
    this.#head(3, n);
    this.#room(n);
    receipt.writeReceipt(this.#buf, this.#pos, seq, receiveCount);
    this.#pos += n;
    this.#key(keys[2]!);
    this.#bytes(body);
    this.#key(keys[3]!);
    this.#number(seq);
    this.#key(keys[4]!);
    this.#number(receiveCount);
    this.#key(keys[5]!);
    this.#number(sentAt);
    this.#key(keys[6]!);
    this.#number(firstReceivedAt);
  }

  #message(m: DeliveredMessage): void {
    const keys = this.#messageKeys;
    let n = REQUIRED_MESSAGE_KEYS;
    for (let k = REQUIRED_MESSAGE_KEYS; k < MESSAGE_KEYS.length; k++) if (m[MESSAGE_KEYS[k]!] !== undefined) n++;
    this.#head(5, n);
    this.#key(keys[0]!);
    this.#text(m.messageId);
    this.#key(keys[1]!);
    this.#text(m.receipt);
    this.#key(keys[2]!);
    this.#bytes(m.body);
    this.#key(keys[3]!);
    this.#number(m.seq);
    this.#key(keys[4]!);
    this.#number(m.receiveCount);
    this.#key(keys[5]!);
    this.#number(m.sentAt);
    this.#key(keys[6]!);
    this.#number(m.firstReceivedAt);
    if (n === REQUIRED_MESSAGE_KEYS) return;
    for (let k = REQUIRED_MESSAGE_KEYS; k < MESSAGE_KEYS.length; k++) {
      const v = m[MESSAGE_KEYS[k]!];
      if (v === undefined) continue;
      this.#key(keys[k]!);
      this.#value(v);
    }
  }

  /** Bytes written as they are (a cached key, a frozen object's encoding). */
  #key(key: Uint8Array): void {
    this.#room(key.length);
    this.#pos = putBlock(this.#buf, this.#pos, key);
  }

  #bytes(v: Uint8Array): void {
    this.#head(2, v.byteLength);
    this.#room(v.byteLength);
    this.#buf.set(v, this.#pos);
    this.#pos += v.byteLength;
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(bigger, 0, 0, this.#pos);
    this.#buf = bigger;
  }

  /** Major type and argument in the shortest form (arguments here are < 2^32). */
  #head(major: number, n: number): void {
    this.#room(5);
    this.#pos = putHead(this.#buf, this.#pos, major, n);
  }

  #value(v: unknown): void {
    switch (typeof v) {
      case 'string':
        return this.#text(v);
      case 'number':
        return this.#number(v);
      case 'boolean':
        this.#room(1);
        this.#buf[this.#pos++] = v ? 0xf5 : 0xf4;
        return;
      case 'undefined':
        this.#room(1);
        this.#buf[this.#pos++] = 0xf7;
        return;
      case 'object':
        if (v === null) {
          this.#room(1);
          this.#buf[this.#pos++] = 0xf6;
          return;
        }
        if (Array.isArray(v)) {
          this.#head(4, v.length);
          for (const item of v) this.#value(item);
          return;
        }
        if (v instanceof Uint8Array) return this.#bytes(v);
        if (v instanceof SendOk) return this.#sendOk(v);
        if (Object.getPrototypeOf(v) === Object.prototype) {
          if (Object.isFrozen(v)) return this.#frozenMap(v);
          return this.#map(v as Record<string, unknown>);
        }
    }
    this.#raw(encodeFrame(v));
  }

  #sendOk(v: SendOk): void {
    const r = v.ok;
    if (r.duplicate !== undefined || r.deadLettered !== undefined || typeof r.messageId !== 'string') {
      this.#map(v as unknown as Record<string, unknown>);
      return;
    }
    this.#key(SEND_OK_HEAD);
    this.#text(r.messageId);
    this.#key(SEQ_KEY);
    this.#number(r.seq);
  }

  #frozenMap(o: object): void {
    let bytes = this.#frozen.get(o);
    if (bytes === undefined) {
      const start = this.#pos;
      this.#map(o as Record<string, unknown>);
      bytes = Buffer.from(this.#buf.subarray(start, this.#pos));
      this.#frozen.set(o, bytes);
      return;
    }
    this.#key(bytes);
  }

  #map(o: Record<string, unknown>): void {
    let n = 0;
    for (const _ in o) n++;
    this.#head(5, n);
    for (const k in o) {
      let key = this.#keys.get(k);
      if (key === undefined) {
        key = textItem(k);
        if (this.#keys.size >= KEY_CACHE_MAX) this.#keys.clear();
        this.#keys.set(k, key);
      }
      this.#key(key);
      this.#value(o[k]);
    }
  }

  #text(s: string): void {
    const n = s.length;
    // ASCII (ids, receipts, names): one byte per character, written as they are read.
    this.#head(3, n);
    this.#room(n);
    const b = this.#buf;
    const start = this.#pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.#pos = start - headSize(n);
        const bytes = Buffer.from(s, 'utf8');
        this.#head(3, bytes.length);
        this.#room(bytes.length);
        this.#buf.set(bytes, this.#pos);
        this.#pos += bytes.length;
        return;
      }
      b[start + i] = c;
    }
    this.#pos = start + n;
  }

  #number(v: number): void {
    this.#room(9);
    this.#pos = putNumber(this.#buf, this.#pos, v);
  }

  #raw(bytes: Uint8Array): void {
    this.#room(bytes.byteLength);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.byteLength;
  }
}

/** `{` of 7 entries and the key "messageId": how a plain message starts. */
const PLAIN_HEAD = Buffer.concat([Buffer.from([0xa0 | REQUIRED_MESSAGE_KEYS]), textItem('messageId')]);
const RECEIPT_KEY = textItem('receipt');
const BODY_KEY = textItem('body');
const RECEIVE_COUNT_KEY = textItem('receiveCount');
const SENT_AT_KEY = textItem('sentAt');
const FIRST_RECEIVED_AT_KEY = textItem('firstReceivedAt');
/** The most a plain message takes besides its id, receipt and body: keys, three heads of at most 5 bytes, four numbers of at most 9. */
const PLAIN_FIXED_BYTES = PLAIN_HEAD.length + RECEIPT_KEY.length + BODY_KEY.length + SEQ_KEY.length + RECEIVE_COUNT_KEY.length + SENT_AT_KEY.length
  + FIRST_RECEIVED_AT_KEY.length + 3 * 5 + 4 * 9;

/** Writes `block` at `p` (the caller made room); returns where it ends. Short ones byte by byte: cheaper than a call into Buffer's copy. */
function putBlock(b: Buffer, p: number, block: Uint8Array): number {
  const n = block.length;
  if (n <= 16) for (let i = 0; i < n; i++) b[p + i] = block[i]!;
  else b.set(block, p);
  return p + n;
}

/** Writes a head (major type, argument < 2^32, shortest form) at `p` (the caller made room for 5 bytes); returns where it ends. */
function putHead(b: Buffer, p: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    b[p] = m | n;
    return p + 1;
  }
  if (n < 0x100) {
    b[p] = m | 24;
    b[p + 1] = n;
    return p + 2;
  }
  if (n < 0x10000) {
    b[p] = m | 25;
    b.writeUInt16BE(n, p + 1);
    return p + 3;
  }
  b[p] = m | 26;
  b.writeUInt32BE(n, p + 1);
  return p + 5;
}

/** Writes a number at `p` (the caller made room for 9 bytes): an integer head when it fits, else a float64; returns where it ends. */
function putNumber(b: Buffer, p: number, v: number): number {
  if (v >>> 0 === v) return putHead(b, p, 0, v);
  if (v < 0 && v >= -0x1_0000_0000 && Math.floor(v) === v) return putHead(b, p, 1, -1 - v);
  b[p] = 0xfb;
  b.writeDoubleBE(v, p + 1);
  return p + 9;
}

function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** Text `s` as a CBOR data item. */
function textItem(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([textHead(bytes.length), bytes]);
}

/** The head of a text string of n bytes. */
function textHead(n: number): Buffer {
  const b = Buffer.allocUnsafe(headSize(n));
  if (n < 24) b[0] = 0x60 | n;
  else if (n < 0x100) b.writeUInt8(n, (b[0] = 0x78, 1));
  else if (n < 0x10000) b.writeUInt16BE(n, (b[0] = 0x79, 1));
  else b.writeUInt32BE(n, (b[0] = 0x7a, 1));
  return b;
}
