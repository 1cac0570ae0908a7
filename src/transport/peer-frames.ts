/**
 * Frames on a peer link (node ↔ node, WebSocket at /peer, the same CBOR codec as clients use).
 * Everything one side produces in one event-loop turn leaves as one WebSocket message (an array).
 *
 *   hello  first frame of the dialing side: who it is
 *   call   a request that gets exactly one `ret` with the same id: a result or a wire error
 *   cast   a one-way message (pushes of forwarded subscriptions, session closes)
 *
 * What travels inside `call` and `cast` is the cluster's business (supervisor/cluster/peer-messages.ts);
 * this layer only moves it and settles calls.
 */
import type { WireError } from '../protocol/errors.js';

export type PeerAnswer = { result: unknown } | { error: WireError };

export type PeerFrame =
  | { k: 'hello'; node: string }
  | { k: 'call'; id: number; m: unknown }
  | { k: 'ret'; id: number; a: PeerAnswer }
  | { k: 'cast'; m: unknown };

export function isPeerFrame(v: unknown): v is PeerFrame {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Record<string, unknown>;
  switch (f.k) {
    case 'hello':
      return typeof f.node === 'string';
    case 'call':
    case 'ret':
      return typeof f.id === 'number' && (f.k === 'call' ? 'm' in f : typeof f.a === 'object' && f.a !== null);
    case 'cast':
      return 'm' in f;
    default:
      return false;
  }
}

/** Splits a decoded WebSocket message into frames (one frame or an array of them). */
export function peerFrames(decoded: unknown): unknown[] {
  return Array.isArray(decoded) ? decoded : [decoded];
}
