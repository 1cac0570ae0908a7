/**
 * A raw WebSocket to the broker for wire-level tests: no client SDK in between, so tests can send
 * malformed or hostile frames and count exactly what the server pushes. Frames are CBOR through the
 * protocol's own codec; a server message holding an array of frames is split into its frames.
 */
import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from '../../src/protocol/codec.js';
import type { WireError } from '../../src/protocol/errors.js';
import type { DeliveredMessage } from '../../src/protocol/ops.js';
import { poll } from './bounded.js';

export interface RawReply {
  id: number | null;
  result?: unknown;
  error?: WireError;
}

export interface RawPush {
  sub: number;
  messages: DeliveredMessage[];
}

export interface RawSubEnd {
  sub: number;
  end: WireError;
}

export interface RawClose {
  code: number;
  reason: string;
}

/** Waits until `check` returns something other than undefined, polling every 5 ms; rejects after `timeoutMs`. */
export function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 5000): Promise<T> {
  return poll(what, check, { timeoutMs, intervalMs: 5 });
}

export class RawSocket {
  readonly #ws: WebSocket;
  readonly replies: RawReply[] = [];
  readonly pushes: RawPush[] = [];
  readonly subEnds: RawSubEnd[] = [];
  /** Raw server messages received (each may hold several frames). */
  messages = 0;
  closed: RawClose | undefined;
  #nextId = 1;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer) => {
      this.messages++;
      const decoded = decodeFrame(data);
      for (const f of (Array.isArray(decoded) ? decoded : [decoded]) as Array<Record<string, unknown>>) {
        if ('id' in f) this.replies.push(f as unknown as RawReply);
        else if (Array.isArray(f.messages)) this.pushes.push(f as unknown as RawPush);
        else if (f.end !== undefined) this.subEnds.push(f as unknown as RawSubEnd);
        else throw new Error(`unexpected server frame ${JSON.stringify(f)}`);
      }
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
    });
    // Errors (e.g. ECONNRESET when the server drops us) are reported through `closed`.
    ws.on('error', () => {});
  }

  static open(url: string): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      ws.binaryType = 'nodebuffer';
      ws.once('open', () => resolve(new RawSocket(ws)));
      ws.once('error', reject);
    });
  }

  /** A fresh request id. */
  id(): number {
    return this.#nextId++;
  }

  /** Sends bytes as one binary WebSocket message. */
  sendBytes(bytes: Uint8Array): void {
    this.#ws.send(bytes, { binary: true });
  }

  sendText(text: string): void {
    this.#ws.send(text, { binary: false });
  }

  /** Sends any value CBOR-encoded (a frame, an array of frames, or garbage shaped like CBOR). */
  sendValue(value: unknown): void {
    this.sendBytes(encodeFrame(value));
  }

  /** Sends a request frame and resolves with its reply (result or error). */
  async call(op: string, args: Record<string, unknown>, timeoutMs = 10_000): Promise<RawReply> {
    const id = this.id();
    this.sendValue({ id, op, args });
    return this.reply(id, timeoutMs);
  }

  /** The reply to request `id`, once it arrived. */
  reply(id: number | null, timeoutMs = 10_000): Promise<RawReply> {
    return waitFor(`reply ${String(id)}`, () => {
      const i = this.replies.findIndex((r) => r.id === id);
      if (i < 0) return undefined;
      return this.replies.splice(i, 1)[0];
    }, timeoutMs);
  }

  /** Calls and expects a result; throws with the wire error otherwise. */
  async ok<T = Record<string, unknown>>(op: string, args: Record<string, unknown>): Promise<T> {
    const r = await this.call(op, args);
    if (r.error !== undefined) throw new Error(`${op} failed: ${JSON.stringify(r.error)}`);
    return r.result as T;
  }

  /** Every message pushed to subscription `sub` so far. */
  pushedTo(sub: number): DeliveredMessage[] {
    return this.pushes.filter((p) => p.sub === sub).flatMap((p) => p.messages);
  }

  /** Resolves with the close once the server closed the socket. */
  waitClosed(timeoutMs = 5000): Promise<RawClose> {
    return waitFor('socket close', () => this.closed, timeoutMs);
  }

  close(): Promise<void> {
    if (this.closed !== undefined || this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.#ws.once('close', () => resolve());
      this.#ws.close(1000);
      setTimeout(() => this.#ws.terminate(), 2000).unref();
    });
  }

  /** Drops the TCP connection without a close handshake (a crashed client). */
  terminate(): void {
    this.#ws.terminate();
  }
}
