/**
 * `node dist/loadtest/floor-server.js --hops 2|4 [--workers N] [--sync] [--port P] [--dir DIR]`
 *
 * The floor: a pseudo-broker with Ferry's thread shape and nothing else, driven by the same
 * harness as Ferry (loadtest/adapters/floor.ts), so that its figures are the least that shape
 * costs on this machine. The same transport as Ferry (uWebSockets.js on 127.0.0.1, one WebSocket
 * message per session per event-loop turn) and minimal in-memory queues (floor-queues.ts).
 *
 * - hops=2: the main thread holds the queues: a publish is confirmed and pushed to the consumer
 *   in the same turn (producer → main → consumer: a single-threaded in-memory broker, Redis-like).
 * - hops=4: each queue lives on one of N worker threads (placed on the one with the fewest queues
 *   when created, as Ferry places queues on shards); the main thread posts each turn's requests to
 *   each worker in one postMessage (bodies packed in one transferred buffer), the worker's turn
 *   answers and pushes, and posts every session's frames back in one message, which the main
 *   thread writes (producer → main → worker → main → consumer, Ferry's path).
 * - --sync (hops=4 only): the worker appends each batch's bodies to a file and confirms publishes
 *   only after an fdatasync off its turn (floor-worker.ts); pushes leave before it, as Ferry's.
 *
 * Prints `floor ready {"port":…}` once listening. On SIGTERM or SIGINT it stops listening, closes
 * every connection and worker (and its own temporary directory), and then exits because nothing is
 * left open: it never calls process.exit on that path, so an exit proves everything was closed
 * (a handle still open after CLOSE_MS is reported and exits with code 3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import uWS from 'uWebSockets.js';
import type { WebSocket } from 'uWebSockets.js';
import { assertNativeUws } from '../src/transport/server.js';
import { FloorFrameError, FrameReader, Op, type ClientFrame } from './floor-frames.js';
import { applyReq, BodyPacker, floorReq, FramesOutput, GONE, SessionFrames, type FloorReq, type FloorWorkerData, type FromFloorWorker, type ToFloorWorker } from './floor-messages.js';
import { bodiesOf, FloorQueues } from './floor-queues.js';

export interface FloorOptions {
  hops: 2 | 4;
  /** Worker threads (hops=4). */
  workers: number;
  sync: boolean;
  host: string;
  port: number;
  /** Where the sync file goes; default a temporary directory of its own, removed at close. */
  dir: string | undefined;
}

export class FloorUsageError extends Error {
  override readonly name = 'FloorUsageError';
  readonly code = 'Usage';
}

export const FLOOR_USAGE = 'usage: floor-server --hops 2|4 [--workers 1..16] [--sync] [--port 0..65535] [--host 127.0.0.1] [--dir DIR]';

export function parseFloorArgs(argv: readonly string[]): FloorOptions {
  const opts: FloorOptions = { hops: 2, workers: 2, sync: false, host: '127.0.0.1', port: 0, dir: undefined };
  let hopsGiven = false;
  let workersGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new FloorUsageError(`${a} needs a value`);
      return v;
    };
    const int = (min: number, max: number): number => {
      const raw = value();
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < min || n > max) throw new FloorUsageError(`${a}: ${raw} is not an integer from ${min} to ${max}`);
      return n;
    };
    if (a === '--hops') {
      hopsGiven = true;
      const raw = value();
      if (raw !== '2' && raw !== '4') throw new FloorUsageError(`--hops: ${raw}; must be 2 (main thread only) or 4 (main thread and workers)`);
      opts.hops = raw === '2' ? 2 : 4;
    } else if (a === '--workers') {
      workersGiven = true;
      opts.workers = int(1, 16);
    } else if (a === '--sync') opts.sync = true;
    else if (a === '--port') opts.port = int(0, 65535);
    else if (a === '--host') opts.host = value();
    else if (a === '--dir') opts.dir = value();
    else throw new FloorUsageError(`unknown argument ${a}`);
  }
  if (!hopsGiven) throw new FloorUsageError('--hops is required');
  if (opts.hops === 2 && (opts.sync || workersGiven)) throw new FloorUsageError('--sync and --workers need --hops 4 (with hops=2 the main thread holds the queues)');
  return opts;
}

interface Session {
  id: number;
  ws: WebSocket<{ session?: Session }>;
  /** Frames to write at the end of this turn. */
  chunks: Uint8Array[];
  closed: boolean;
}

/** Bytes uWS may hold for a client that does not read before the connection is closed (1008). */
const HIGH_WATER = 64 * 1024 * 1024;
/** How long closing may take before what is still open is reported. */
const CLOSE_MS = 5000;

interface WorkerSlot {
  worker: Worker;
  reqs: FloorReq[];
  bodies: BodyPacker;
  queues: number;
  exited: Promise<void>;
}

export class FloorServer {
  readonly #opts: FloorOptions;
  readonly #app: uWS.TemplatedApp;
  readonly #sessions = new Map<number, Session>();
  #dirty: Session[] = [];
  #nextSession = 1;
  #listen: uWS.us_listen_socket | undefined;
  #turnScheduled = false;
  #closing = false;
  /** hops=2: the queues, and their frames per session. */
  readonly #frames = new SessionFrames();
  readonly #output = new FramesOutput(this.#frames);
  readonly #queues = new FloorQueues(this.#output);
  /** hops=4: the workers, and which one holds each queue. */
  readonly #workers: WorkerSlot[] = [];
  readonly #placement = new Map<string, WorkerSlot>();
  #ownDir: string | undefined;
  #syncDir: string | undefined;

  constructor(opts: FloorOptions) {
    assertNativeUws();
    this.#opts = opts;
    this.#app = uWS.App();
    this.#app.ws<{ session?: Session }>('/ws', {
      // Over this uWS drops the connection without a close frame; the harness sends at most ~1,000 × 64 KiB.
      maxPayloadLength: 256 * 1024 * 1024,
      maxBackpressure: HIGH_WATER * 2,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      open: (ws) => {
        const session: Session = { id: this.#nextSession++, ws, chunks: [], closed: false };
        ws.getUserData().session = session;
        this.#sessions.set(session.id, session);
      },
      message: (ws, message, isBinary) => {
        const s = ws.getUserData().session;
        if (s !== undefined) this.#onMessage(s, message, isBinary);
      },
      close: (ws) => {
        const s = ws.getUserData().session;
        if (s !== undefined) this.#onClose(s);
      },
    });
    this.#app.any('/*', (res) => {
      res.writeStatus('404 Not Found').end('floor: WebSocket at /ws only');
    });
  }

  /** Where the sync files are (sync mode). */
  get syncDir(): string | undefined {
    return this.#syncDir;
  }

  get port(): number {
    return this.#listen === undefined ? 0 : uWS.us_socket_local_port(this.#listen as unknown as uWS.us_socket);
  }

  async start(): Promise<number> {
    if (this.#opts.hops === 4) {
      const dir = this.#opts.sync ? (this.#syncDir = this.#opts.dir ?? (this.#ownDir = mkdtempSync(join(tmpdir(), 'ferry-floor-')))) : undefined;
      for (let i = 0; i < this.#opts.workers; i++) this.#workers.push(this.#spawn(i, dir === undefined ? undefined : join(dir, `worker-${i}.log`)));
    }
    return new Promise((resolve, reject) => {
      this.#app.listen(this.#opts.host, this.#opts.port, (socket) => {
        if (!socket) return reject(new Error(`floor: cannot listen on ${this.#opts.host}:${this.#opts.port}`));
        this.#listen = socket;
        resolve(this.port);
      });
    });
  }

  #spawn(i: number, syncFile: string | undefined): WorkerSlot {
    const data: FloorWorkerData = { worker: i, syncFile };
    const worker = new Worker(new URL('./floor-worker.js', import.meta.url), { workerData: data, name: `floor-worker-${i}` });
    const exited = new Promise<void>((resolve) => worker.once('exit', (code) => {
      if (!this.#closing) {
        // A worker that dies takes its queues with it: the floor has no recovery, so it stops.
        process.stderr.write(`floor: worker ${i} exited (${code}); stopping\n`);
        process.exit(1);
      }
      resolve();
    }));
    worker.on('error', (err) => process.stderr.write(`floor: worker ${i}: ${err.stack ?? String(err)}\n`));
    worker.on('message', (m: FromFloorWorker) => {
      if (m.t !== 'out') return;
      for (let k = 0; k < m.sessions.length; k++) {
        const s = this.#sessions.get(m.sessions[k]!);
        if (s !== undefined) this.#enqueue(s, m.chunks[k]!);
      }
    });
    return { worker, reqs: [], bodies: new BodyPacker(), queues: 0, exited };
  }

  #onMessage(s: Session, message: ArrayBuffer, isBinary: boolean): void {
    if (!isBinary) {
      this.#error(s, 0, new FloorFrameError('BadFrame', 'text messages are not accepted; send binary frames'));
      return;
    }
    // hops=2 keeps the bodies in its queues: one copy of the message (uWS reclaims it after this
    // call), bodies as views into it. hops=4 copies each body into the worker's batch as it reads.
    const bytes = this.#opts.hops === 2 ? new Uint8Array(message.slice(0)) : new Uint8Array(message);
    const reader = new FrameReader(bytes);
    while (!reader.done) {
      let f: ClientFrame;
      try {
        f = reader.next();
      } catch (err) {
        // After a bad frame the rest of the message cannot be trusted: it is dropped, the connection stays.
        this.#error(s, err instanceof FloorFrameError ? err.id : 0, err instanceof FloorFrameError ? err : new FloorFrameError('BadFrame', String(err)));
        break;
      }
      if (this.#opts.hops === 2) this.#local(s, f, bytes);
      else this.#route(s, f);
    }
    this.#scheduleTurn();
  }

  /** hops=2: the queues are here. */
  #local(s: Session, f: ClientFrame, bytes: Uint8Array): void {
    applyReq(this.#queues, floorReq(s.id, f), f.op === Op.publish ? bodiesOf(bytes, f.bodies) : undefined);
  }

  /** hops=4: to the queue's worker, in this turn's batch for it. */
  #route(s: Session, f: ClientFrame): void {
    let w = this.#placement.get(f.queue);
    if (f.op === Op.create) {
      if (w !== undefined) return this.#error(s, f.id, new FloorFrameError('QueueExists', `queue ${f.queue} exists`));
      w = this.#workers.reduce((a, b) => (b.queues < a.queues ? b : a));
      w.queues++;
      this.#placement.set(f.queue, w);
    } else if (w === undefined) {
      return this.#error(s, f.id, new FloorFrameError('NoSuchQueue', `queue ${f.queue} does not exist`));
    } else if (f.op === Op.delete) {
      w.queues--;
      this.#placement.delete(f.queue);
    }
    if (f.op === Op.publish) for (const b of f.bodies) w.bodies.add(b);
    w.reqs.push(floorReq(s.id, f));
  }

  #error(s: Session, id: number, err: FloorFrameError): void {
    this.#frames.for(s.id).error(id, err.code, err.message);
    this.#scheduleTurn();
  }

  #enqueue(s: Session, chunk: Uint8Array): void {
    if (s.closed) return;
    if (s.chunks.length === 0) this.#dirty.push(s);
    s.chunks.push(chunk);
    this.#scheduleTurn();
  }

  #scheduleTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(this.#endTurn);
  }

  /** The end of the main thread's turn: pushes (hops=2) or posts to workers (hops=4), then writes every session once. */
  readonly #endTurn = (): void => {
    this.#turnScheduled = false;
    this.#queues.endTurn();
    for (const w of this.#workers) {
      if (w.reqs.length === 0) continue;
      const { bytes, ends } = w.bodies.take();
      const batch: ToFloorWorker = { t: 'batch', reqs: w.reqs, bytes, ends };
      w.reqs = [];
      w.worker.postMessage(batch, [bytes.buffer as ArrayBuffer, ends.buffer as ArrayBuffer]);
    }
    const local = this.#frames.take();
    for (let k = 0; k < local.sessions.length; k++) {
      const s = this.#sessions.get(local.sessions[k]!);
      if (s !== undefined && !s.closed) {
        if (s.chunks.length === 0) this.#dirty.push(s);
        s.chunks.push(local.chunks[k]!);
      }
    }
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const s of dirty) this.#write(s);
  };

  #write(s: Session): void {
    const chunks = s.chunks;
    s.chunks = [];
    if (s.closed || chunks.length === 0) return;
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    let status = 1;
    s.ws.cork(() => (status = s.ws.send(bytes, true, false)));
    // 2 = dropped: a client that does not read. Its answers would be lost, so it is closed instead.
    if (status === 2 || s.ws.getBufferedAmount() > HIGH_WATER) s.ws.end(1008, 'floor: client too slow');
  }

  #onClose(s: Session): void {
    s.closed = true;
    s.chunks = [];
    this.#sessions.delete(s.id);
    this.#queues.gone(s.id);
    this.#output.drop(s.id);
    for (const w of this.#workers) w.reqs.push([GONE, s.id, 0, '', 0]);
    if (this.#workers.length > 0) this.#scheduleTurn();
  }

  /** Stops listening, closes every connection and worker; resolves once the workers have exited. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#listen !== undefined) uWS.us_listen_socket_close(this.#listen);
    this.#listen = undefined;
    for (const s of [...this.#sessions.values()]) s.ws.end(1001, 'floor closing');
    this.#endTurn();
    for (const w of this.#workers) w.worker.postMessage({ t: 'close' } satisfies ToFloorWorker);
    await Promise.all(this.#workers.map((w) => w.exited));
    if (this.#ownDir !== undefined) rmSync(this.#ownDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  let opts: FloorOptions;
  try {
    opts = parseFloorArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof FloorUsageError) {
      process.stderr.write(`floor-server: ${err.message}\n${FLOOR_USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const server = new FloorServer(opts);
  const port = await server.start();
  process.stdout.write(`floor ready ${JSON.stringify({ port, hops: opts.hops, workers: opts.hops === 4 ? opts.workers : 0, sync: opts.sync, dir: server.syncDir, pid: process.pid })}\n`);
  const stop = (): void => {
    void server.close().then(() => {
      // Nothing should be left to keep the process alive; if something is, say so and go.
      setTimeout(() => {
        process.stderr.write(`floor-server: still running ${CLOSE_MS} ms after close: a handle was left open\n`);
        process.exit(3);
      }, CLOSE_MS).unref();
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`floor-server: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
