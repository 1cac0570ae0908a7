/**
 * The accepting side of peer links: the /peer WebSocket route on the node's uWS app. Another node
 * dials it, says hello, and sends calls and casts; answers and casts back go out on the same socket.
 */
import type { WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { decodeFrame, encodeFrame } from '../protocol/codec.js';
import { ErrorCodes } from '../protocol/errors.js';
import { Limits } from '../protocol/limits.js';
import { isPeerFrame, peerFrames, type PeerAnswer, type PeerFrame } from './peer-frames.js';

/** What the cluster does with what arrives on an accepted peer socket. */
export interface PeerHandler {
  /** A call from the node behind `from`; `done` exactly once. */
  call(from: PeerSocket, m: unknown, done: (a: PeerAnswer) => void): void;
  cast(from: PeerSocket, m: unknown): void;
  closed(from: PeerSocket): void;
}

interface PeerData {
  socket?: PeerSocket;
}

/** One accepted peer connection. */
export class PeerSocket {
  node: string | undefined;
  #ws: WebSocket<PeerData> | undefined;
  #out: PeerFrame[] = [];
  #scheduled = false;

  constructor(readonly id: number, ws: WebSocket<PeerData>) {
    this.#ws = ws;
  }

  cast(m: unknown): void {
    this.#send({ k: 'cast', m });
  }

  answer(id: number, a: PeerAnswer): void {
    this.#send({ k: 'ret', id, a });
  }

  #send(f: PeerFrame): void {
    if (this.#ws === undefined) return;
    this.#out.push(f);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    const ws = this.#ws;
    if (ws === undefined || this.#out.length === 0) return;
    const frames = this.#out;
    this.#out = [];
    const bytes = encodeFrame(frames);
    ws.cork(() => {
      if (ws.send(bytes, true, false) === 2) ws.end(1008, 'peer too slow');
    });
  }

  end(): void {
    const ws = this.#ws;
    this.closed();
    ws?.end(1001, 'node shutting down');
  }

  closed(): void {
    this.#ws = undefined;
    this.#out = [];
  }
}

export class PeerServer {
  readonly #handler: PeerHandler;
  readonly #sockets = new Set<PeerSocket>();
  #next = 1;

  constructor(handler: PeerHandler) {
    this.#handler = handler;
  }

  /** The uWS behavior of the /peer route. */
  behavior(): WebSocketBehavior<PeerData> {
    return {
      maxPayloadLength: Limits.maxFrameBytes * 8,
      maxBackpressure: 256 * 1024 * 1024,
      idleTimeout: 60,
      sendPingsAutomatically: true,
      open: (ws) => {
        const socket = new PeerSocket(this.#next++, ws);
        ws.getUserData().socket = socket;
        this.#sockets.add(socket);
      },
      message: (ws, message) => {
        const socket = ws.getUserData().socket;
        if (socket === undefined) return;
        let decoded: unknown;
        try {
          decoded = decodeFrame(new Uint8Array(message));
        } catch {
          ws.end(1003, 'malformed CBOR on a peer link');
          return;
        }
        for (const f of peerFrames(decoded)) this.#frame(socket, f);
      },
      close: (ws) => {
        const socket = ws.getUserData().socket;
        if (socket === undefined) return;
        socket.closed();
        this.#sockets.delete(socket);
        this.#handler.closed(socket);
      },
    };
  }

  #frame(socket: PeerSocket, f: unknown): void {
    if (!isPeerFrame(f)) return;
    switch (f.k) {
      case 'hello':
        socket.node = f.node;
        return;
      case 'call':
        if (socket.node === undefined) {
          socket.answer(f.id, { error: { code: ErrorCodes.BadFrame, message: 'peer sent a call before hello' } });
          return;
        }
        this.#handler.call(socket, f.m, (a) => socket.answer(f.id, a));
        return;
      case 'cast':
        if (socket.node !== undefined) this.#handler.cast(socket, f.m);
        return;
      case 'ret':
        return; // the dialing side never gets calls from us on this socket
    }
  }

  /** Closes every accepted peer socket (shutdown). */
  closeAll(): void {
    for (const s of [...this.#sockets]) s.end();
    this.#sockets.clear();
  }
}
