/**
 * Frames: what one WebSocket binary message carries. A message holds one frame, or a CBOR array of
 * frames (senders coalesce everything produced in one event-loop turn into one message).
 *
 *   client → server   RequestFrame   { id, op, args }
 *   server → client   ReplyFrame     { id, result } | { id, error }
 *                     PushFrame      { sub, messages }          (a push subscription delivers)
 *                     SubEndFrame    { sub, end: WireError }     (the server ended a subscription)
 *
 * `id` is chosen by the client (a non-negative integer, unique among its outstanding requests);
 * a reply to a frame whose id could not be read carries `id: null`.
 */
import type { WireError } from './errors.js';
import type { DeliveredMessage, OpName } from './ops.js';

export interface RequestFrame {
  id: number;
  op: OpName;
  args: Record<string, unknown>;
}

export interface ResultFrame {
  id: number;
  result: unknown;
}

export interface ErrorFrame {
  id: number | null;
  error: WireError;
}

export type ReplyFrame = ResultFrame | ErrorFrame;

export interface PushFrame {
  sub: number;
  messages: DeliveredMessage[];
}

export interface SubEndFrame {
  sub: number;
  end: WireError;
}

export type ServerFrame = ReplyFrame | PushFrame | SubEndFrame;

export function isPushFrame(f: ServerFrame): f is PushFrame {
  return (f as PushFrame).messages !== undefined && (f as PushFrame).sub !== undefined;
}

export function isSubEndFrame(f: ServerFrame): f is SubEndFrame {
  return (f as SubEndFrame).end !== undefined;
}

export function isErrorFrame(f: ServerFrame): f is ErrorFrame {
  return (f as ErrorFrame).error !== undefined;
}
