/**
 * CBOR encoding of frames (cbor-x). Decoding copies byte strings out of the input buffer, because
 * uWebSockets.js frees the ArrayBuffer it hands to `message` when the callback returns
 * (shared/STACK.md: "buffers that empty after a callback").
 */
import { Encoder, type Options } from 'cbor-x';

const encoder = new Encoder({
  useRecords: false, copyBuffers: true, mapsAsObjects: true, tagUint8Array: false,
  // An integer in CBOR's 8-byte form (0x1b/0x3b) is read as a number, not a BigInt: encoders in
  // other languages may use that form for any value, and validation wants numbers. Values past
  // 2^53 lose precision, and every range check then rejects them.
  int64AsNumber: true,
} as Options & { int64AsNumber: boolean });

export function encodeFrame(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Decodes one WebSocket message; throws on malformed CBOR. */
export function decodeFrame(bytes: Uint8Array): unknown {
  return encoder.decode(bytes);
}
