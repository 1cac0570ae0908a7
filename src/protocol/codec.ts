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

/** Byte strings decode as views into the input (no copy per body): for input the caller owns. */
const viewDecoder = new Encoder({ useRecords: false, copyBuffers: false, mapsAsObjects: true, tagUint8Array: false });

/**
 * Decodes a WebSocket message whose buffer the caller copied once and owns: every body is a view
 * into it, so a batch of N bodies costs one copy instead of N (the server's hot path).
 */
export function decodeOwnedFrame(bytes: Uint8Array): unknown {
  return viewDecoder.decode(bytes);
}

/** Decodes one WebSocket message; throws on malformed CBOR. */
export function decodeFrame(bytes: Uint8Array): unknown {
  return encoder.decode(bytes);
}
