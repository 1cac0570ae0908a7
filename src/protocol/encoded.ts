/**
 * CBOR encoded once, where the value was made (a shard worker encodes its batch replies and pushes),
 * and spliced into the client's frame by the main thread as bytes: the main thread neither rebuilds
 * the objects nor encodes them again (profiled: cbor-x encode and the GC of those objects were the
 * largest share of the main thread under load). Anything that needs the value itself (metrics, the
 * SQS layer, a peer link) reads `value`, decoded on first use; encoding an EncodedCbor with cbor-x
 * anywhere writes its value, so a path that does not know about it stays correct, only slower.
 */
import { addExtension } from 'cbor-x';
import { decodeFrame, encodeFrame } from './codec.js';

export class EncodedCbor<T> {
  #value: T | undefined;
  /**
   * @param bytes one CBOR data item
   * @param count what metrics count: messages of a push or receive, ok entries of a batch reply
   */
  constructor(readonly bytes: Uint8Array, readonly count: number) {}

  get value(): T {
    return (this.#value ??= decodeFrame(this.bytes) as T);
  }
}

// No tag: the extension writes the value itself (cbor-x writes a tag only when one is given).
addExtension({
  Class: EncodedCbor,
  encode(item: EncodedCbor<unknown>, encode: (v: unknown) => void) {
    encode(item.value);
  },
} as unknown as Parameters<typeof addExtension>[0]);

/** The value, whether it came encoded or not. */
export function valueOf<T>(v: T | EncodedCbor<T>): T {
  return v instanceof EncodedCbor ? v.value : v;
}

/** CBOR text string header + ASCII key (every key spliced here is ASCII). */
function key(k: string): Uint8Array {
  return Uint8Array.from([0x60 | k.length, ...Buffer.from(k, 'latin1')]);
}
const KEY_ID = key('id');
const KEY_RESULT = key('result');
const KEY_SUB = key('sub');
const KEY_MESSAGES = key('messages');
const MAP_2 = 0xa2;

/** Bytes of a CBOR head (major type + argument) in its shortest form. */
function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n <= 0xffff_ffff ? 5 : 9;
}

/** Writes a head of major type `major` (0: unsigned integer, 4: array) at `pos`; returns the end. */
function writeHead(out: Buffer, pos: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) out[pos++] = m | n;
  else if (n < 0x100) {
    out[pos++] = m | 24;
    out[pos++] = n;
  } else if (n < 0x10000) {
    out[pos++] = m | 25;
    out.writeUInt16BE(n, pos);
    pos += 2;
  } else if (n <= 0xffff_ffff) {
    out[pos++] = m | 26;
    out.writeUInt32BE(n, pos);
    pos += 4;
  } else {
    out[pos++] = m | 27;
    out.writeBigUInt64BE(BigInt(n), pos);
    pos += 8;
  }
  return pos;
}

/** A frame `{id, result}` or `{sub, messages}` whose value is EncodedCbor: its key, number and bytes, spliced. */
interface Splice {
  numberKey: Uint8Array;
  n: number;
  valueKey: Uint8Array;
  bytes: Uint8Array;
}

function spliceOf(frame: object): Splice | undefined {
  const f = frame as { id?: number; result?: unknown; sub?: number; messages?: unknown };
  if (f.result instanceof EncodedCbor && typeof f.id === 'number' && f.id >= 0 && Object.keys(f).length === 2) {
    return { numberKey: KEY_ID, n: f.id, valueKey: KEY_RESULT, bytes: f.result.bytes };
  }
  if (f.messages instanceof EncodedCbor && typeof f.sub === 'number' && f.sub >= 0 && Object.keys(f).length === 2) {
    return { numberKey: KEY_SUB, n: f.sub, valueKey: KEY_MESSAGES, bytes: f.messages.bytes };
  }
  return undefined;
}

function spliceSize(s: Splice): number {
  return 1 + s.numberKey.byteLength + headSize(s.n) + s.valueKey.byteLength + s.bytes.byteLength;
}

function writeSplice(out: Buffer, pos: number, s: Splice): number {
  out[pos++] = MAP_2;
  out.set(s.numberKey, pos);
  pos = writeHead(out, pos + s.numberKey.byteLength, 0, s.n);
  out.set(s.valueKey, pos);
  pos += s.valueKey.byteLength;
  out.set(s.bytes, pos);
  return pos + s.bytes.byteLength;
}

/**
 * The pieces of one server frame, in order: `{id, result}` and `{sub, messages}` whose value is
 * EncodedCbor are spliced (a two-entry map header, the keys, the bytes as they are); every other
 * frame is encoded.
 */
export function encodeServerFrame(frame: object): Uint8Array {
  return encodeServerFrames([frame]);
}

/**
 * Frames as one WebSocket message: one frame alone, several as a CBOR array. Written in one pass
 * into one buffer: the spliced bytes are copied once, whatever the number of frames.
 */
export function encodeServerFrames(frames: readonly object[]): Uint8Array {
  const n = frames.length;
  const parts = new Array<Splice | Uint8Array>(n);
  let total = n === 1 ? 0 : headSize(n);
  for (let i = 0; i < n; i++) {
    const s = spliceOf(frames[i]!);
    if (s !== undefined) {
      parts[i] = s;
      total += spliceSize(s);
    } else {
      const bytes = encodeFrame(frames[i]);
      parts[i] = bytes;
      total += bytes.byteLength;
    }
  }
  const out = Buffer.allocUnsafe(total);
  let pos = n === 1 ? 0 : writeHead(out, 0, 4, n);
  for (const p of parts) {
    if (p instanceof Uint8Array) {
      out.set(p, pos);
      pos += p.byteLength;
    } else {
      pos = writeSplice(out, pos, p);
    }
  }
  return out;
}
