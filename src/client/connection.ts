/**
 * One logical connection to a Ferry broker: a WebSocket that is replaced on failure.
 *
 * - Requests of one event-loop turn leave as ONE WebSocket message (a CBOR array of frames),
 *   flushed from setImmediate. `defer()` lets coalescing layers (credit, acks) add their requests
 *   to that same message.
 * - Every request has its own timeout (`Timeout`), kept as a deadline: one timer, armed for the
 *   earliest, serves them all (a timer per request was a measurable share of a producer's CPU at
 *   tens of thousands of requests a second). When an open socket closes, every request still
 *   waiting settles at once with `ConnectionClosed`; requests made while reconnecting wait for the
 *   next socket (or their timeout).
 * - Frames are encoded with the small CBOR writer the broker uses for its answers
 *   (protocol/cbor-writer.ts; cbor-x for anything unusual): about a third of cbor-x's time for a
 *   sendBatch of small bodies.
 * - Reconnect goes round robin through the URLs with exponential backoff.
 */
import WebSocket from 'ws';
import { CborWriter } from '../protocol/cbor-writer.js';
import { decodeServerMessage } from './server-message.js';
import { ErrorCodes, FerryError, type WireError } from '../protocol/errors.js';
import type { DeliveredMessage, OpName } from '../protocol/ops.js';
import type { RequestFrame } from '../protocol/frames.js';
import { backoffDelay } from './backoff.js';
import { IdTable } from '../common/id-table.js';
import type { ResolvedOptions } from './options.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface DisconnectInfo {
  url: string;
  code: number;
  reason: string;
}

export interface ReconnectInfo {
  attempt: number;
  delayMs: number;
  url: string;
}

/** What the connection tells its owner. Called synchronously. */
export interface ConnectionHooks {
  open(url: string, reconnected: boolean): void;
  disconnected(info: DisconnectInfo): void;
  reconnecting(info: ReconnectInfo): void;
  error(err: Error): void;
  push(sub: number, messages: DeliveredMessage[]): void;
  subEnd(sub: number, end: WireError): void;
}

export interface RequestOptions {
  timeoutMs?: number;
  /** Called synchronously when the result frame is read, before later frames of the same message. */
  onResult?: (result: unknown) => void;
}

interface Pending {
  op: OpName;
  resolve(value: unknown): void;
  reject(err: FerryError): void;
  /** When it times out (ms, performance.now()), and its timeout for the message. */
  deadline: number;
  timeoutMs: number;
  onResult: ((result: unknown) => void) | undefined;
}

/** One writer for every connection: frames are encoded synchronously, one at a time. */
const writer = new CborWriter();

/** A WebSocket message is split once its estimated size passes this (the server reads up to 16 MiB). */
const CHUNK_BYTES = 4 * 1024 * 1024;
const ID_WRAP = 2 ** 31;

function estimateBytes(args: Record<string, unknown>): number {
  let n = 64;
  if (args.body instanceof Uint8Array) n += args.body.byteLength;
  if (Array.isArray(args.entries)) {
    for (const e of args.entries as { body?: unknown }[]) n += 32 + (e.body instanceof Uint8Array ? e.body.byteLength : 0);
  }
  if (Array.isArray(args.receipts)) n += 128 * args.receipts.length;
  else if (args.receipts instanceof Uint8Array) n += args.receipts.byteLength;
  return n;
}

function closedError(message: string): FerryError {
  return new FerryError(ErrorCodes.ConnectionClosed, message);
}

export class Connection {
  private ws: WebSocket | null = null;
  private _state: ConnectionState = 'connecting';
  private urlIndex = 0;
  private attempt = 0;
  private nextId = 0;
  /** Requests awaiting their reply, by id (an IdTable, not a Map: see there why). */
  private readonly pending = new IdTable<Pending>();
  private outbox: RequestFrame[] = [];
  private outboxBytes: number[] = [];
  private deferred: (() => void)[] = [];
  private flushScheduled = false;
  private inFlush = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** The timer for the earliest deadline among pending requests (at most that early), if any. */
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineAt = Infinity;
  private everOpened = false;
  private closeWaiters: (() => void)[] = [];
  private _url = '';

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly hooks: ConnectionHooks,
  ) {}

  get state(): ConnectionState {
    return this._state;
  }

  /** The URL of the current (or last) socket. */
  get url(): string {
    return this._url;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** First connection: tries each URL once, in order. Rejects with ConnectionClosed naming the last failure. */
  async open(): Promise<void> {
    let lastError: Error | undefined;
    for (let i = 0; i < this.opts.urls.length; i++) {
      if (this._state === 'closed') throw closedError('client closed while connecting');
      this.urlIndex = i;
      try {
        await this.dial(this.opts.urls[i]!);
        return;
      } catch (err) {
        lastError = err as Error;
        this.opts.logger.debug({ url: this.opts.urls[i], err }, 'ferry: connect failed');
      }
    }
    this._state = 'closed';
    this.rejectAll(closedError(`cannot connect to ${this.opts.urls.join(', ')}: ${lastError?.message ?? 'unknown error'}`));
    throw new FerryError(
      ErrorCodes.ConnectionClosed,
      `cannot connect to ${this.opts.urls.join(', ')}: ${lastError?.message ?? 'unknown error'}`,
      { cause: lastError },
    );
  }

  /** Sends a request; the promise settles with its result, or a FerryError. Never hangs past its timeout. */
  request(op: OpName, args: Record<string, unknown>, options: RequestOptions = {}): Promise<unknown> {
    if (this._state === 'closed') return Promise.reject(closedError('client is closed'));
    return new Promise<unknown>((resolve, reject) => {
      const id = this.nextId;
      this.nextId = (this.nextId + 1) % ID_WRAP;
      const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs;
      const deadline = performance.now() + timeoutMs;
      this.pending.set(id, { op, resolve, reject, deadline, timeoutMs, onResult: options.onResult });
      if (deadline < this.deadlineAt) this.armDeadline(deadline);
      this.outbox.push({ id, op, args });
      this.outboxBytes.push(estimateBytes(args));
      this.scheduleFlush();
    });
  }

  private armDeadline(at: number): void {
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineAt = at;
    this.deadlineTimer = setTimeout(this.expire, Math.max(0, Math.ceil(at - performance.now())));
  }

  private disarmDeadline(): void {
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.deadlineAt = Infinity;
  }

  /** A request left `pending`: with none left, no timer keeps the process alive. */
  private settled(): void {
    if (this.pending.size === 0 && this.deadlineTimer !== null) this.disarmDeadline();
  }

  /** The deadline timer fired: requests past their deadline reject with Timeout; the timer is armed for the next. */
  private readonly expire = (): void => {
    this.deadlineTimer = null;
    this.deadlineAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [id, p] of this.pending.entries()) {
      if (p.deadline <= now) {
        this.pending.delete(id);
        p.reject(new FerryError(ErrorCodes.Timeout, `${p.op}: no reply within ${p.timeoutMs} ms`));
      } else if (p.deadline < next) {
        next = p.deadline;
      }
    }
    if (next !== Infinity) this.armDeadline(next);
  };

  /** Runs `task` just before the next flush, so the requests it makes join this turn's message. */
  defer(task: () => void): void {
    if (this._state === 'closed') return;
    this.deferred.push(task);
    this.scheduleFlush();
  }

  /** Closes for good: pending requests reject with ConnectionClosed, no reconnect. */
  async close(): Promise<void> {
    if (this._state === 'closed' && this.ws === null) return;
    this._state = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.deferred = [];
    this.rejectAll(closedError('client closed'));
    const ws = this.ws;
    if (ws === null) return;
    await new Promise<void>((resolve) => {
      this.closeWaiters.push(resolve);
      if (ws.readyState === WebSocket.OPEN) {
        ws.close(1000, 'client closed');
        // A peer that never answers the close handshake must not hold us up.
        const t = setTimeout(() => ws.terminate(), 2000);
        t.unref();
      } else if (ws.readyState === WebSocket.CONNECTING) {
        ws.terminate();
      } else if (ws.readyState === WebSocket.CLOSED) {
        this.onSocketGone();
      }
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.inFlush) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.inFlush = true;
    try {
      while (this.deferred.length > 0) {
        const tasks = this.deferred;
        this.deferred = [];
        for (const task of tasks) {
          try {
            task();
          } catch (err) {
            this.opts.logger.error({ err }, 'ferry: deferred task failed');
          }
        }
      }
    } finally {
      this.inFlush = false;
      this.flushScheduled = false;
    }
    const ws = this.ws;
    if (this._state !== 'open' || ws === null || this.outbox.length === 0) return;
    const frames = this.outbox;
    const sizes = this.outboxBytes;
    this.outbox = [];
    this.outboxBytes = [];
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < frames.length; i++) {
      bytes += sizes[i]!;
      if (bytes >= CHUNK_BYTES || i === frames.length - 1) {
        const chunk = start === 0 && i === frames.length - 1 ? frames : frames.slice(start, i + 1);
        ws.send(writer.encode(chunk.length === 1 ? chunk[0] : chunk));
        start = i + 1;
        bytes = 0;
      }
    }
  };

  private dial(url: string): Promise<void> {
    this._url = url;
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: this.opts.connectTimeoutMs, perMessageDeflate: false });
      ws.binaryType = 'nodebuffer';
      this.ws = ws;
      let opened = false;
      let failure: Error | undefined;
      ws.on('open', () => {
        if (this._state === 'closed') {
          ws.terminate();
          return;
        }
        opened = true;
        const reconnected = this.everOpened;
        this.everOpened = true;
        this._state = 'open';
        this.attempt = 0;
        this.opts.logger.debug({ url }, 'ferry: connected');
        resolve();
        this.hooks.open(url, reconnected);
        this.flush();
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (this.ws !== ws) return;
        this.onMessage(data, isBinary);
      });
      ws.on('error', (err: Error) => {
        failure = err;
        if (opened) this.hooks.error(err);
      });
      ws.on('close', (code: number, reasonBuf: Buffer) => {
        if (this.ws === ws) this.ws = null;
        if (!opened) {
          reject(failure ?? new Error(`closed before open (code ${code})`));
          if (this._state === 'closed') this.onSocketGone();
          return;
        }
        if (this._state === 'closed') {
          this.onSocketGone();
          return;
        }
        const info: DisconnectInfo = { url, code, reason: reasonBuf.toString() };
        this.opts.logger.warn(info, 'ferry: disconnected');
        this.rejectAll(closedError(`connection to ${url} closed (code ${code}${info.reason ? `: ${info.reason}` : ''})`));
        this.deferred = [];
        this.outbox = [];
        this.outboxBytes = [];
        if (this.opts.reconnect) {
          this._state = 'reconnecting';
          this.hooks.disconnected(info);
          this.scheduleReconnect();
        } else {
          this._state = 'closed';
          this.hooks.disconnected(info);
        }
      });
    });
  }

  private scheduleReconnect(): void {
    if (this._state !== 'reconnecting' || this.reconnectTimer) return;
    this.urlIndex = (this.urlIndex + 1) % this.opts.urls.length;
    const url = this.opts.urls[this.urlIndex]!;
    const delayMs = backoffDelay(this.attempt, this.opts.backoff);
    this.attempt++;
    this.hooks.reconnecting({ attempt: this.attempt, delayMs, url });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this._state !== 'reconnecting') return;
      this.dial(url).catch((err: Error) => {
        this.opts.logger.debug({ url, err }, 'ferry: reconnect failed');
        this.scheduleReconnect();
      });
    }, delayMs);
  }

  private onSocketGone(): void {
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
  }

  private rejectAll(err: FerryError): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    this.disarmDeadline();
    for (const p of entries) p.reject(err);
    this.outbox = [];
    this.outboxBytes = [];
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    let decoded: unknown;
    try {
      if (!isBinary) throw new Error('text message');
      decoded = decodeServerMessage(data);
    } catch (err) {
      this.hooks.error(new FerryError(ErrorCodes.BadFrame, `unreadable message from server: ${(err as Error).message}`));
      return;
    }
    if (Array.isArray(decoded)) {
      for (const frame of decoded) this.onFrame(frame);
    } else {
      this.onFrame(decoded);
    }
  }

  private onFrame(frame: unknown): void {
    if (frame === null || typeof frame !== 'object') {
      this.hooks.error(new FerryError(ErrorCodes.BadFrame, 'server frame is not a map'));
      return;
    }
    const f = frame as Record<string, unknown>;
    if ('id' in f) {
      if (f.id === null) {
        // The server could not read one of our frames: it is not tied to a request.
        const wire = f.error as WireError | undefined;
        this.hooks.error(wire ? FerryError.fromWire(wire) : new FerryError(ErrorCodes.BadFrame, 'reply with null id'));
        return;
      }
      const p = this.pending.get(f.id as number);
      if (p === undefined) {
        this.opts.logger.debug({ id: f.id }, 'ferry: reply to an unknown or timed-out request');
        return;
      }
      this.pending.delete(f.id as number);
      this.settled();
      if (f.error !== undefined) {
        p.reject(FerryError.fromWire(f.error as WireError));
      } else {
        try {
          p.onResult?.(f.result);
        } catch (err) {
          this.opts.logger.error({ err }, 'ferry: result hook failed');
        }
        p.resolve(f.result);
      }
      return;
    }
    if (typeof f.sub === 'number') {
      if (Array.isArray(f.messages)) this.hooks.push(f.sub, f.messages as DeliveredMessage[]);
      else if (f.end !== undefined) this.hooks.subEnd(f.sub, f.end as WireError);
      return;
    }
    this.hooks.error(new FerryError(ErrorCodes.BadFrame, 'server frame of unknown kind'));
  }
}
