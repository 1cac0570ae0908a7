/**
 * The dialing side of a peer link: this node's connection to another node's /peer route (the `ws`
 * package: uWS has no client). It reconnects with backoff while the peer is a member; a call made
 * while the link is down fails at once with the retryable PeerUnavailable, and every call in
 * flight fails the same way when the socket closes — nothing waits forever.
 */
import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from '../protocol/codec.js';
import { ErrorCodes, type WireError } from '../protocol/errors.js';
import { isPeerFrame, peerFrames, type PeerAnswer, type PeerFrame } from './peer-frames.js';

export interface PeerLinkOptions {
  /** This node's id (sent in hello). */
  self: string;
  /** ws://host:port of the peer. */
  url: string;
  /** Source address of outgoing connections (the node's own listen address), when it has one. */
  localAddress?: string;
  callTimeoutMs?: number;
  onCast(m: unknown): void;
  /** The link (re)opened: the caller may resume what it streams to the peer. */
  onOpen?(): void;
  onClose?(): void;
}

interface PendingCall {
  done(a: PeerAnswer): void;
  timer: NodeJS.Timeout;
}

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 1000;

export class PeerLink {
  readonly #opts: PeerLinkOptions;
  #url: string;
  #ws: WebSocket | undefined;
  #open = false;
  #closed = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, PendingCall>();
  #out: PeerFrame[] = [];
  #scheduled = false;

  constructor(opts: PeerLinkOptions) {
    this.#opts = opts;
    this.#url = opts.url;
    this.#dial();
  }

  /** The peer moved (it restarted on another address). */
  setUrl(url: string): void {
    if (url === this.#url) return;
    this.#url = url;
    this.#ws?.terminate();
  }

  #dial(): void {
    if (this.#closed) return;
    const ws = new WebSocket(`${this.#url}/peer`, {
      perMessageDeflate: false, handshakeTimeout: 2000, maxPayload: 256 * 1024 * 1024,
      ...(this.#opts.localAddress === undefined ? {} : { localAddress: this.#opts.localAddress }),
    });
    ws.binaryType = 'nodebuffer';
    this.#ws = ws;
    ws.on('open', () => {
      this.#open = true;
      this.#attempt = 0;
      ws.send(encodeFrame([{ k: 'hello', node: this.#opts.self } satisfies PeerFrame]));
      this.#flush();
      this.#opts.onOpen?.();
    });
    ws.on('message', (data: Buffer) => {
      let decoded: unknown;
      try {
        decoded = decodeFrame(data);
      } catch {
        ws.terminate();
        return;
      }
      for (const f of peerFrames(decoded)) this.#frame(f);
    });
    ws.on('error', () => undefined); // 'close' follows
    ws.on('close', () => {
      const wasOpen = this.#open;
      this.#open = false;
      this.#ws = undefined;
      this.#out = [];
      this.#failAll({ code: ErrorCodes.PeerUnavailable, message: `peer link to ${this.#url} closed; retry`, retryable: true });
      if (wasOpen) this.#opts.onClose?.();
      if (this.#closed) return;
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.#attempt++);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#dial();
      }, delay);
    });
  }

  #frame(f: unknown): void {
    if (!isPeerFrame(f)) return;
    if (f.k === 'ret') {
      const p = this.#pending.get(f.id);
      if (p === undefined) return;
      this.#pending.delete(f.id);
      clearTimeout(p.timer);
      p.done(f.a);
    } else if (f.k === 'cast') {
      this.#opts.onCast(f.m);
    }
  }

  #failAll(error: WireError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.done({ error });
    }
  }

  /** Sends a call; `done` exactly once (the answer, a timeout, or PeerUnavailable). */
  call(m: unknown, done: (a: PeerAnswer) => void, timeoutMs = this.#opts.callTimeoutMs ?? 30_000): void {
    if (!this.#open) {
      done({ error: { code: ErrorCodes.PeerUnavailable, message: `no link to ${this.#url}; retry`, retryable: true } });
      return;
    }
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      if (!this.#pending.delete(id)) return;
      done({ error: { code: ErrorCodes.PeerUnavailable, message: `peer ${this.#url} did not answer within ${timeoutMs} ms; retry`, retryable: true } });
    }, timeoutMs);
    this.#pending.set(id, { done, timer });
    this.#send({ k: 'call', id, m });
  }

  cast(m: unknown): void {
    if (this.#open) this.#send({ k: 'cast', m });
  }

  #send(f: PeerFrame): void {
    this.#out.push(f);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    if (!this.#open || this.#ws === undefined || this.#out.length === 0) return;
    const frames = this.#out;
    this.#out = [];
    this.#ws.send(encodeFrame(frames));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#failAll({ code: ErrorCodes.PeerUnavailable, message: 'node shutting down', retryable: true });
    this.#ws?.terminate();
  }
}
