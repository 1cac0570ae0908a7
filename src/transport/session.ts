/**
 * A client WebSocket connection: decodes incoming CBOR, validates each request frame, hands it to
 * the router, and sends replies and pushes back. Everything produced for a connection in one
 * event-loop turn leaves as one WebSocket message (a CBOR array when there is more than one frame).
 *
 * A bad frame gets an error reply and the connection stays open (docs/protocol.md, "Errors");
 * only a message over the frame limit closes it (1009), because then the stream cannot be trusted
 * to hold the reply we would send.
 */
import type { WebSocket } from 'uWebSockets.js';
import { decodeOwnedFrame, encodeFrame } from '../protocol/codec.js';
import { ErrorCodes, FerryError, type WireError } from '../protocol/errors.js';
import type { ServerFrame } from '../protocol/frames.js';
import { Limits } from '../protocol/limits.js';
import type { DeliveredMessage } from '../protocol/ops.js';
import { InvalidRequest, validateRequest, type ValidRequest } from '../protocol/validate.js';
import type { Answer } from '../supervisor/shard-pool.js';

/** What a session needs from the broker: one method per direction. */
export interface RequestHandler {
  /** Routes a validated request; `done` is called exactly once. */
  dispatch(session: number, req: ValidRequest, done: (a: Answer) => void): void;
  /** Called for every answered request (metrics). */
  answered(req: ValidRequest, answer: Answer, startedAt: number): void;
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
    this.#scheduled = false;
    const dirty = this.#dirty;
    this.#dirty = new Set();
    for (const s of dirty) s.flush();
  }
}

export class Session {
  readonly id: number;
  readonly #ws: WebSocket<SessionData>;
  readonly #handler: RequestHandler;
  readonly #flusher: FlushScheduler;
  #out: ServerFrame[] = [];
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
    if (Array.isArray(decoded)) for (const frame of decoded) this.#onFrame(frame);
    else this.#onFrame(decoded);
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
    const startedAt = performance.now();
    this.#handler.dispatch(this.id, req, (answer) => {
      this.#inFlight--;
      this.#handler.answered(req, answer, startedAt);
      this.#enqueue('result' in answer ? { id: req.id, result: answer.result } : { id: req.id, error: answer.error });
    });
  }

  #sendError(id: number | null, err: FerryError): void {
    this.#enqueue({ id, error: err.toWire() });
  }

  push(sub: number, messages: DeliveredMessage[]): void {
    this.#enqueue({ sub, messages });
  }

  subEnd(sub: number, error: WireError): void {
    this.#enqueue({ sub, end: error });
  }

  #enqueue(frame: ServerFrame): void {
    if (this.#closed) return;
    this.#out.push(frame);
    if (this.#out.length === 1) this.#flusher.mark(this);
  }

  flush(): void {
    if (this.#closed || this.#out.length === 0) return;
    const frames = this.#out;
    this.#out = [];
    const bytes = encodeFrame(frames.length === 1 ? frames[0] : frames);
    let status = 1;
    this.#ws.cork(() => {
      status = this.#ws.send(bytes, true, false);
    });
    // 2 = dropped: the client reads slower than we answer, past maxBackpressure. A lost reply would
    // leave a request hanging on the client, so close instead; the client's pending requests settle.
    if (status === 2) this.end(1008, 'client too slow: send buffer limit reached');
  }

  end(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out = [];
    this.#ws.end(code, reason);
  }

  /** uWS reports the socket closed; it must not be used after this. */
  markClosed(): void {
    this.#closed = true;
    this.#out = [];
  }
}
