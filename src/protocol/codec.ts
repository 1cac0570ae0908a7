/**
 * CBOR encoding of frames (cbor-x). Decoding copies byte strings out of the input buffer, because
 * uWebSockets.js frees the ArrayBuffer it hands to `message` when the callback returns
 * (shared/STACK.md: "buffers that empty after a callback").
 */
import { Encoder } from 'cbor-x';

const encoder = new Encoder({ useRecords: false, copyBuffers: true, mapsAsObjects: true, tagUint8Array: false });

export function encodeFrame(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Decodes one WebSocket message; throws on malformed CBOR. */
export function decodeFrame(bytes: Uint8Array): unknown {
  return encoder.decode(bytes);
}
