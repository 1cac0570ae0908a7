/**
 * CBOR encoded once, where the value was made (a shard worker encodes its batch replies and pushes),
 * and spliced into the client's frame by the main thread as bytes: the main thread neither rebuilds
 * the objects nor encodes them again (profiled: cbor-x encode and the GC of those objects were the
 * largest share of the main thread under load). Anything that needs the value itself (metrics, the
 * SQS layer, a peer link) reads `value`, decoded on first use; encoding an EncodedCbor with cbor-x
 * anywhere writes its value, so a path that does not know about it stays correct, only slower.
 */
import { addExtension } from 'cbor-x';
import { arrayHead, decodeFrame, encodeFrame } from './codec.js';

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

/** A non-negative integer in CBOR's shortest form (frame ids and subscription numbers). */
function uint(n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(n);
  if (n < 0x100) return Uint8Array.of(0x18, n);
  if (n < 0x10000) return Uint8Array.of(0x19, n >> 8, n & 0xff);
  if (n <= 0xffff_ffff) return Uint8Array.of(0x1a, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  return encodeFrame(n);
}

/**
 * The pieces of one server frame, in order: `{id, result}` and `{sub, messages}` whose value is
 * EncodedCbor are spliced (a two-entry map header, the keys, the bytes as they are); every other
 * frame is encoded.
 */
function framePieces(frame: object, out: Uint8Array[]): void {
  const f = frame as { id?: number; result?: unknown; sub?: number; messages?: unknown };
  if (f.result instanceof EncodedCbor && typeof f.id === 'number' && Object.keys(f).length === 2) {
    out.push(MAP_2, KEY_ID, uint(f.id), KEY_RESULT, f.result.bytes);
  } else if (f.messages instanceof EncodedCbor && typeof f.sub === 'number' && Object.keys(f).length === 2) {
    out.push(MAP_2, KEY_SUB, uint(f.sub), KEY_MESSAGES, f.messages.bytes);
  } else {
    out.push(encodeFrame(frame));
  }
}

/** One server frame as bytes (see framePieces). */
export function encodeServerFrame(frame: object): Uint8Array {
  const pieces: Uint8Array[] = [];
  framePieces(frame, pieces);
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}
const MAP_2 = Uint8Array.of(0xa2);

/**
 * Frames as one WebSocket message: one frame alone, several as a CBOR array. Spliced bytes are
 * copied once, into the message (pushes are the bulk of what a consumer's connection carries).
 */
export function encodeServerFrames(frames: readonly object[]): Uint8Array {
  if (frames.length === 1) return encodeServerFrame(frames[0]!);
  let spliced = false;
  for (const f of frames) {
    const v = f as { result?: unknown; messages?: unknown };
    if (v.result instanceof EncodedCbor || v.messages instanceof EncodedCbor) {
      spliced = true;
      break;
    }
  }
  if (!spliced) return encodeFrame(frames);
  const pieces: Uint8Array[] = [arrayHead(frames.length)];
  for (const f of frames) framePieces(f, pieces);
  return Buffer.concat(pieces);
}
