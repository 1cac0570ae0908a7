/**
 * CBOR encoding of frames (cbor-x). Decoding copies byte strings out of the input buffer, because
 * uWebSockets.js frees the ArrayBuffer it hands to `message` when the callback returns
 * (shared/STACK.md: "buffers that empty after a callback").
 */
import { Encoder, type Options } from 'cbor-x';
import { readSubset } from './cbor-reader.js';

const options = {
  useRecords: false, mapsAsObjects: true, tagUint8Array: false,
  // An integer in CBOR's 8-byte form (0x1b/0x3b) is read as a number, not a BigInt: encoders in
  // other languages may use that form for any value, and validation wants numbers. Values past
  // 2^53 lose precision, and every range check then rejects them.
  int64AsNumber: true,
} as Options & { int64AsNumber: boolean };

const encoder = new Encoder({ ...options, copyBuffers: true });

export function encodeFrame(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Byte strings decode as views into the input (no copy per body): for input the caller owns. */
const viewDecoder = new Encoder({ ...options, copyBuffers: false });

/**
 * Decodes a WebSocket message whose buffer the caller copied once and owns: every body is a view
 * into it, so a batch of N bodies costs one copy instead of N (the server's hot path). The common
 * frames are read by cbor-reader.ts, anything else by cbor-x, with the same result.
 */
export function decodeOwnedFrame(bytes: Uint8Array): unknown {
  return readSubset(bytes) ?? viewDecoder.decode(bytes);
}

/** Decodes one WebSocket message; throws on malformed CBOR. */
export function decodeFrame(bytes: Uint8Array): unknown {
  return encoder.decode(bytes);
}

/**
 * A CBOR array of items that are already encoded (each by encodeFrame): lets a sender measure
 * frames one by one and group them into WebSocket messages without encoding each group again.
 */
export function encodedArray(items: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat([arrayHead(items.length), ...items]);
}

/** The head of a CBOR array of n items: major type 4 with the count in the shortest form (RFC 8949 §3.1). */
function arrayHead(n: number): Uint8Array {
  return Uint8Array.from(n < 24 ? [0x80 | n] : n < 0x100 ? [0x98, n] : n < 0x10000 ? [0x99, n >> 8, n & 0xff] : [0x9a, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}
