/**
 * A client WebSocket connection: decodes incoming CBOR, validates each request frame, hands it to
 * the router, and sends replies and pushes back. Everything produced for a connection in one
 * event-loop turn leaves as one WebSocket message (a CBOR array when there is more than one frame),
 * or as several of at most Limits.maxDeliveryBytes when it is bigger. Output is paced by the
 * socket: past a high water mark it waits for uWS's `drain` rather than overflowing the send buffer.
 *
 * A bad frame gets an error reply and the connection stays open (docs/protocol.md, "Errors");
 * only a message over the frame limit closes it (1009), because then the stream cannot be trusted
 * to hold the reply we would send.
 */
import type { WebSocket } from 'uWebSockets.js';
import { decodeOwnedFrame, encodedArray } from '../protocol/codec.js';
import { encodeServerFrame, encodeServerFrames, type EncodedCbor } from '../protocol/encoded.js';
import { ErrorCodes, FerryError, type WireError } from '../protocol/errors.js';
import type { ServerFrame } from '../protocol/frames.js';
import { Limits } from '../protocol/limits.js';
import type { DeliveredMessage } from '../protocol/ops.js';
import { InvalidRequest, queueOf, validateRequest, type ValidRequest } from '../protocol/validate.js';
import type { Answer } from '../supervisor/shard-pool.js';
import type { OpName } from '../protocol/ops.js';
import { lightestFirst } from '../common/lightest-first.js';
import { TraceEvent, TraceGroup, TraceSpan, traceMarkHeld, traceNow, traceReceived, traceSpan, tracing } from '../common/trace.js';

/** What a session needs from the broker: one method per direction. */
export interface RequestHandler {
  /** Routes a validated request; `done` is called exactly once. */
  dispatch(session: number, req: ValidRequest, done: (a: Answer) => void): void;
  /** Called for every answered request (metrics), with its op and the queue it names (if any). */
  answered(op: OpName, queue: string | undefined, answer: Answer, startedAt: number): void;
  readonly maxBodyBytes: number;
  readonly shuttingDown: boolean;
}

export interface SessionData {
  session?: Session;
}

/** Closes sessions' output once per turn: one flush for all sessions with something to send. */
export class FlushScheduler {
  #dirty = new Set<Session>();
  #scheduled = false;

  mark(s: Session): void {
    this.#dirty.add(s);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flushAll());
    }
  }

  flushAll(): void {
    const start = tracing ? traceNow() : 0;
    this.#scheduled = false;
    const dirty = this.#dirty;
    this.#dirty = new Set();
    // The sessions with the fewest frames first (lightest-first.ts): one push to a light queue's
    // consumer is not written after the saturating producers' replies.
    for (const s of dirty.size < 2 ? dirty : lightestFirst([...dirty], pendingFrames)) s.flush();
    if (tracing) traceSpan(TraceSpan.sessionsFlush, start);
  }
}

function pendingFrames(s: Session): number {
  return s.pendingFrames;
}

/** What one outgoing WebSocket message carries at most, unless a single frame is larger. */
const MESSAGE_BYTES = Limits.maxDeliveryBytes;
/**
 * Bytes uWS may buffer for a client before the session holds further messages back until the socket
 * drains. Well below the server's maxBackpressure, past which uWS would drop a message.
 */
const SOCKET_HIGH_WATER = 16 * 1024 * 1024;
/**
 * Bytes a session holds back for a client that does not read them, before it closes the connection
 * (1008). Pushes are bounded by the credit the client grants and answers by its requests; this
 * bounds what a client that stops reading can make the broker hold.
 */
const MAX_HELD_BYTES = 256 * 1024 * 1024;

/**
 * The frames of one turn that are too big together for one WebSocket message, as several CBOR
 * arrays of at most MESSAGE_BYTES each (a single bigger frame goes alone): many answers of one turn,
 * each up to maxDeliveryBytes of bodies, must not add up to a message too big for a client to read.
 * Frames are encoded again one by one here; this is the rare case of a very big turn.
 */
function groupFrames(frames: readonly OutgoingFrame[]): Uint8Array[] {
  const encoded = frames.map(encodeServerFrame);
  const messages: Uint8Array[] = [];
  let group: Uint8Array[] = [];
  let bytes = 0;
  for (const e of encoded) {
    if (group.length > 0 && bytes + e.byteLength > MESSAGE_BYTES) {
      messages.push(group.length === 1 ? group[0]! : encodedArray(group));
      group = [];
      bytes = 0;
    }
    group.push(e);
    bytes += e.byteLength;
  }
  messages.push(group.length === 1 ? group[0]! : encodedArray(group));
  return messages;
}

/** A server frame as the session holds it: pushed messages may still be the shard's CBOR. */
type OutgoingFrame = ServerFrame | { sub: number; messages: DeliveredMessage[] | EncodedCbor<DeliveredMessage[]> };

export class Session {
  readonly id: number;
  readonly #ws: WebSocket<SessionData>;
  readonly #handler: RequestHandler;
  readonly #flusher: FlushScheduler;
  #out: OutgoingFrame[] = [];
  /** Encoded messages waiting for the socket to drain, oldest first. */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #inFlight = 0;
  #closed = false;

  constructor(id: number, ws: WebSocket<SessionData>, handler: RequestHandler, flusher: FlushScheduler) {
    this.id = id;
    this.#ws = ws;
    this.#handler = handler;
    this.#flusher = flusher;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** One WebSocket message from the client. The buffer is only valid during this call. */
  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    const receivedAt = tracing ? traceNow() : 0;
    if (message.byteLength > Limits.maxFrameBytes) {
      this.end(1009, `message of ${message.byteLength} bytes exceeds the ${Limits.maxFrameBytes}-byte frame limit`);
      return;
    }
    if (!isBinary) {
      this.#sendError(null, new FerryError(ErrorCodes.BadFrame, 'text messages are not accepted; send binary CBOR frames'));
      return;
    }
    let decoded: unknown;
    try {
      // uWS reclaims `message` when this callback returns: copy it once, and let the bodies be views
      // into the copy (one copy per WebSocket message instead of one per body; postMessage then
      // clones that one buffer once for all the bodies that travel to a shard together).
      decoded = decodeOwnedFrame(new Uint8Array(message.slice(0)));
    } catch (err) {
      this.#sendError(null, new FerryError(ErrorCodes.BadFrame, `malformed CBOR: ${(err as Error).message}`));
      return;
    }
    if (tracing) traceReceived(decoded, receivedAt);
    if (Array.isArray(decoded)) for (const frame of decoded) this.#onFrame(frame);
    else this.#onFrame(decoded);
    if (tracing && message.byteLength >= 16384) traceSpan(TraceSpan.bigMessage, receivedAt);
  }

  #onFrame(frame: unknown): void {
    let req: ValidRequest;
    try {
      req = validateRequest(frame, this.#handler.maxBodyBytes);
    } catch (err) {
      if (err instanceof InvalidRequest) this.#sendError(err.id, err.error);
      else this.#sendError(null, new FerryError(ErrorCodes.Internal, String(err)));
      return;
    }
    if (this.#handler.shuttingDown) {
      this.#sendError(req.id, new FerryError(ErrorCodes.ShuttingDown, 'the broker is shutting down; retry on another node or later'));
      return;
    }
    if (this.#inFlight >= Limits.maxInFlightPerConnection) {
      this.#sendError(req.id, new FerryError(ErrorCodes.TooManyInFlight, `more than ${Limits.maxInFlightPerConnection} requests outstanding on this connection`));
      return;
    }
    this.#inFlight++;
    this.#dispatch(req);
  }

  /**
   * Routes a valid request. The answer's callback keeps its id, op and queue name, not the request:
   * a sendBatch's entries (views into the client's WebSocket message) can go as soon as the router
   * has copied them for the shard, instead of living for the round trip (see Router#send).
   */
  #dispatch(req: ValidRequest): void {
    const { id, op } = req;
    const queue = queueOf(req);
    const startedAt = performance.now();
    this.#handler.dispatch(this.id, req, (answer) => {
      this.#inFlight--;
      this.#handler.answered(op, queue, answer, startedAt);
      this.#enqueue('result' in answer ? { id, result: answer.result } : { id, error: answer.error });
    });
  }

  #sendError(id: number | null, err: FerryError): void {
    this.#enqueue({ id, error: err.toWire() });
  }

  /** Frames waiting for this turn's flush. */
  get pendingFrames(): number {
    return this.#out.length;
  }

  push(sub: number, messages: DeliveredMessage[] | EncodedCbor<DeliveredMessage[]>): void {
    this.#enqueue({ sub, messages });
  }

  subEnd(sub: number, error: WireError): void {
    this.#enqueue({ sub, end: error });
  }

  #enqueue(frame: OutgoingFrame): void {
    if (this.#closed) return;
    this.#out.push(frame);
    if (this.#out.length === 1) this.#flusher.mark(this);
  }

  flush(): void {
    if (this.#closed || this.#out.length === 0) return;
    const frames = this.#out;
    this.#out = [];
    const whole = encodeServerFrames(frames);
    const messages = whole.byteLength <= MESSAGE_BYTES || frames.length === 1 ? [whole] : groupFrames(frames);
    for (const bytes of messages) {
      this.#held.push(bytes);
      this.#heldBytes += bytes.byteLength;
    }
    this.#write();
    // Pushes' keys wait in one group: the first session written that had a push takes them (in the isolation scenario only one session gets pushes).
    if (tracing && frames.some((f) => 'messages' in f)) traceMarkHeld(TraceGroup.sessionFlush, TraceEvent.L);
  }

  /** uWS: the socket's send buffer drained; hand it what was held back. */
  onDrain(): void {
    this.#write();
  }

  /**
   * Sends held messages while the socket's buffer is below its high water mark: a client that reads
   * slowly (big pushes it granted credit for, many big answers) is paced, not disconnected.
   */
  #write(): void {
    if (this.#closed) return;
    let sent = 0;
    let status = 1;
    this.#ws.cork(() => {
      while (sent < this.#held.length && this.#ws.getBufferedAmount() < SOCKET_HIGH_WATER) {
        const bytes = this.#held[sent++]!;
        this.#heldBytes -= bytes.byteLength;
        status = this.#ws.send(bytes, true, false);
        if (status === 2) break;
      }
    });
    this.#held = sent === this.#held.length ? [] : this.#held.slice(sent);
    // 2 = dropped (past maxBackpressure), or too much held back: the client does not read. A lost
    // reply would leave a request hanging on the client, so close instead; its pending requests settle.
    if (status === 2 || this.#heldBytes > MAX_HELD_BYTES) this.end(1008, 'client too slow: send buffer limit reached');
  }

  end(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out = [];
    this.#held = [];
    this.#heldBytes = 0;
    this.#ws.end(code, reason);
  }

  /** uWS reports the socket closed; it must not be used after this. */
  markClosed(): void {
    this.#closed = true;
    this.#out = [];
    this.#held = [];
    this.#heldBytes = 0;
  }
}
