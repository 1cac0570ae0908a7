/**
 * The floor pseudo-broker (loadtest/floor-server.ts): Ferry's thread shape without its logic, so
 * its figures are the floor of that shape here, not a peer's. The client is as cheap as the Ferry
 * SDK's: `ws`, the frames of one event-loop turn in one WebSocket message (setImmediate), one
 * pending-request table, and a consumer whose acks are coalesced as the SDK's consume() does (all
 * at the end of the turn once 64 or more wait, else up to 2 ms for company).
 *
 * The adapter the harness opens on its main thread starts its floor server and stops it on
 * close; adapters made in worker threads (latency consumer, saturating producers) connect to that
 * server's URL. The memory scenarios do not apply (nothing is stored), nor Ferry's features.
 */
import WebSocket from 'ws';
import { IdTable } from '../../src/common/id-table.js';
import { FrameWriter, Op, readServerFrames, type ServerFrame } from '../floor-frames.js';
import { FLOOR_MODES, FloorProcess, type FloorReady } from '../floor-process.js';
import { BrokerUnavailable, Unsupported, withTimeout, type BrokerAdapter, type ConsumerHandle, type IdleClient, type OnBodies, type Producer } from './adapter.js';

/** Acks sent at the end of the turn once this many wait (the SDK's ACKS_SENT_AT_ONCE) … */
const ACKS_AT_ONCE = 64;
/** … else after at most this long (the SDK's default ackDelayMs). */
const ACK_DELAY_MS = 2;
const CONNECT_MS = 10_000;
const CLOSE_MS = 2000;

/** The floor server answered an error frame. */
export class FloorRequestError extends Error {
  override readonly name = 'FloorRequestError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

/** One WebSocket to a floor server. */
export class FloorConnection {
  readonly #ws: WebSocket;
  readonly #writer = new FrameWriter();
  readonly #pending = new IdTable<Pending>();
  readonly #subs = new Map<number, (bodies: Uint8Array[]) => void>();
  readonly #closed: Promise<void>;
  #nextId = 1;
  #flushScheduled = false;
  /** The first error frame no request was waiting for (a broken ack), or the socket's end. */
  #failure: Error | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.#closed = new Promise((resolve) => ws.once('close', () => resolve()));
    void this.#closed.then(() => this.#fail(new Error('floor: connection closed')));
    ws.on('message', (data: Buffer) => readServerFrames(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), this.#onFrame));
  }

  static async open(url: string): Promise<FloorConnection> {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: CONNECT_MS });
    ws.binaryType = 'nodebuffer';
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('error', () => undefined); // the close that follows settles what waits
    return new FloorConnection(ws);
  }

  /** The error that ended this connection's usefulness, if any. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Writes a request with a new id into this turn's message; resolves on its OK. */
  request(write: (w: FrameWriter, id: number) => void): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    if (this.#nextId > 0xffff_fff0) this.#nextId = 1;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.send((w) => write(w, id));
    });
  }

  /** Writes a frame that gets no answer into this turn's message. */
  send(write: (w: FrameWriter) => void): void {
    write(this.#writer);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  onPush(sub: number, handler: (bodies: Uint8Array[]) => void): void {
    this.#subs.set(sub, handler);
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#writer.length === 0 || this.#ws.readyState !== WebSocket.OPEN) return;
    this.#ws.send(this.#writer.take());
  };

  readonly #onFrame = (f: ServerFrame): void => {
    if (f.op === Op.push) {
      this.#subs.get(f.sub)?.(f.bodies);
      return;
    }
    const p = this.#pending.get(f.id);
    if (p === undefined) {
      if (f.op === Op.error) this.#fail(new FloorRequestError(f.code, f.message));
      return;
    }
    this.#pending.delete(f.id);
    if (f.op === Op.ok) p.resolve();
    else p.reject(new FloorRequestError(f.code, f.message));
  };

  #fail(err: Error): void {
    this.#failure ??= err;
    const pending = this.#pending.values();
    this.#pending.clear();
    for (const p of pending) p.reject(this.#failure);
  }

  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    this.#ws.close(1000);
    const timer = setTimeout(() => this.#ws.terminate(), CLOSE_MS);
    await this.#closed;
    clearTimeout(timer);
  }
}

/** A consumer of one queue: every push goes to `onBodies`, then its acks (credit) go back, coalesced. */
async function consume(conn: FloorConnection, queue: string, prefetch: number, onBodies: OnBodies): Promise<ConsumerHandle> {
  let sub = 0;
  let unacked = 0;
  let timer: NodeJS.Timeout | undefined;
  const sendAcks = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (unacked === 0) return;
    const n = unacked;
    unacked = 0;
    conn.send((w) => w.ack(sub, queue, n));
  };
  await conn.request((w, id) => {
    sub = id;
    conn.onPush(id, (bodies) => {
      onBodies(bodies);
      unacked += bodies.length;
      if (unacked >= ACKS_AT_ONCE) sendAcks();
      else timer ??= setTimeout(sendAcks, ACK_DELAY_MS);
    });
    w.subscribe(id, queue, prefetch);
  });
  return {
    async stop() {
      if (timer !== undefined) clearTimeout(timer);
      await conn.close();
    },
  };
}

export class FloorAdapter implements BrokerAdapter {
  readonly version: string;
  readonly #process: FloorProcess | undefined;
  #url: string;
  #admin: FloorConnection | undefined;

  /**
   * `url` undefined: this adapter starts the floor server of `name` in open() and stops it in
   * close(). Given: it connects to that server (an adapter made in a worker thread).
   */
  constructor(
    readonly name: string,
    url?: string,
  ) {
    const args = FLOOR_MODES[name];
    if (args === undefined) throw new Error(`unknown floor ${name} (${Object.keys(FLOOR_MODES).join(', ')})`);
    this.version = `floor ${args.join(' ')} (Ferry's thread shape without its logic)`;
    this.#process = url === undefined ? new FloorProcess(args) : undefined;
    this.#url = url ?? '';
  }

  /** The ready line of the server this adapter started (undefined before open, or when it only connects). */
  get ready(): FloorReady | undefined {
    return this.#process?.ready;
  }

  /** The server's WebSocket URL (for adapters in worker threads). */
  get url(): string {
    return this.#url;
  }

  async open(): Promise<void> {
    try {
      if (this.#process !== undefined && this.#process.pid === undefined) {
        await this.#process.start();
        this.#url = this.#process.url;
      }
      this.#admin = await withTimeout(`${this.name} connect`, CONNECT_MS, () => FloorConnection.open(this.#url));
    } catch (err) {
      await this.#process?.stop();
      throw new BrokerUnavailable(`${this.name}: ${(err as Error).message}`, { cause: err });
    }
  }

  serverPids(): number[] {
    const pid = this.#process?.pid;
    return pid === undefined ? [] : [pid];
  }

  async createQueues(names: readonly string[]): Promise<void> {
    const admin = this.#admin!;
    await Promise.all(names.map((q) => admin.request((w, id) => w.admin(Op.create, id, q))));
  }

  async deleteQueues(names: readonly string[]): Promise<void> {
    const admin = this.#admin!;
    await Promise.all(names.map((q) => admin.request((w, id) => w.admin(Op.delete, id, q)).catch(() => undefined)));
  }

  async producer(): Promise<Producer> {
    const conn = await FloorConnection.open(this.#url);
    return {
      send: (queue, bodies) => conn.request((w, id) => w.publish(id, queue, bodies)),
      close: () => conn.close(),
    };
  }

  async consumer(queue: string, prefetch: number, onBodies: OnBodies): Promise<ConsumerHandle> {
    const conn = await FloorConnection.open(this.#url);
    try {
      return await consume(conn, queue, prefetch, onBodies);
    } catch (err) {
      await conn.close();
      throw err;
    }
  }

  async idleClient(): Promise<IdleClient> {
    throw new Unsupported('a floor measures the thread shape, not memory');
  }

  /** Closes the admin connection; the adapter that started the server stops it (and says how it exited). */
  async close(): Promise<void> {
    await this.#admin?.close();
    this.#admin = undefined;
    if (this.#process !== undefined) {
      const exit = await this.#process.stop();
      const started = exit.code !== null || exit.signal !== null;
      if (started && (exit.code !== 0 || exit.signal !== null)) throw new Error(`${this.name} exited with ${JSON.stringify(exit)}: ${this.#process.output.slice(-2000)}`);
    }
  }
}
