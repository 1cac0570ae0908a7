/**
 * A worker of the floor server (hops=4): owns the queues placed on it, like a Ferry shard owns its
 * queue actors, and does nothing else. Each turn (setImmediate after a batch, as the shard's
 * endTurn) it pushes, and posts every session's frames to the main thread in one message.
 *
 * sync: each batch's bodies are appended to a file with one write, and the publishes' confirms are
 * held until an fdatasync that began after that write completes. The fdatasync runs off this
 * thread's turn (libuv's pool, as Ferry's syncer thread), one at a time, covering every write made
 * before it started (group commit); pushes leave with the turn, before the sync, as Ferry's do.
 */
import { closeSync, fdatasync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Op } from './floor-frames.js';
import { applyReq, FramesOutput, GONE, SessionFrames, type FloorWorkerData, type FromFloorWorker, type ToFloorWorker } from './floor-messages.js';
import { FloorQueues, type Bodies } from './floor-queues.js';

const port = parentPort;
if (port === null) throw new Error('floor-worker.js must run in a worker thread');
const data = workerData as FloorWorkerData;

const now = new SessionFrames();
const output = new FramesOutput(now, data.syncFile === undefined ? now : new SessionFrames());
const queues = new FloorQueues(output);

/** The file is emptied past this size, so a long run does not fill the disk. */
const FILE_LIMIT = 256 * 1024 * 1024;
const fd = data.syncFile === undefined ? undefined : openSync(data.syncFile, 'a');
let fileBytes = 0;
/** Writes made, and the last write an fdatasync covered. */
let written = 0;
let synced = 0;
let syncing = false;
/** Confirms held per write, oldest first. */
let held: Array<{ write: number; sessions: number[]; chunks: Uint8Array[] }> = [];
let closing = false;
/** The port is closed: nothing more is posted (a turn scheduled before the close finds this). */
let finished = false;
let turnScheduled = false;

function post(m: FromFloorWorker): void {
  if (finished || (m.t === 'out' && m.sessions.length === 0)) return;
  port!.postMessage(m, m.t === 'out' ? m.chunks.map((c) => c.buffer as ArrayBuffer) : []);
}

function fail(what: string, err: unknown): never {
  process.stderr.write(`floor-worker ${data.worker}: ${what}: ${String(err)}\n`);
  process.exit(70);
}

function append(bytes: Uint8Array): void {
  if (fileBytes + bytes.byteLength > FILE_LIMIT) {
    ftruncateSync(fd!, 0);
    fileBytes = 0;
  }
  writeSync(fd!, bytes);
  fileBytes += bytes.byteLength;
  written++;
}

/** Starts an fdatasync covering every write so far, unless one is running (its callback starts the next). */
function requestSync(): void {
  if (syncing || synced === written || fd === undefined) return;
  syncing = true;
  const through = written;
  fdatasync(fd, (err) => {
    syncing = false;
    if (err !== null) fail('fdatasync failed', err);
    synced = through;
    release();
    if (closing) finishClose();
    else requestSync();
  });
}

/** Posts the confirms of every synced write. */
function release(): void {
  let i = 0;
  const sessions: number[] = [];
  const chunks: Uint8Array[] = [];
  for (; i < held.length && held[i]!.write <= synced; i++) {
    sessions.push(...held[i]!.sessions);
    chunks.push(...held[i]!.chunks);
  }
  held = held.slice(i);
  post({ t: 'out', sessions, chunks });
}

function endTurn(): void {
  turnScheduled = false;
  queues.endTurn();
  post({ t: 'out', ...now.take() });
  if (output.confirms !== now) {
    const confirms = output.confirms.take();
    if (confirms.sessions.length > 0) held.push({ write: written, ...confirms });
    requestSync();
  }
}

function finishClose(): void {
  if (syncing) return; // its callback comes back here
  if (fd !== undefined) closeSync(fd);
  post({ t: 'closed' });
  finished = true;
  port!.close();
}

port.on('message', (m: ToFloorWorker) => {
  if (closing) return;
  if (m.t === 'close') {
    closing = true;
    endTurn();
    finishClose();
    return;
  }
  if (fd !== undefined && m.bytes.byteLength > 0) {
    try {
      append(m.bytes);
    } catch (err) {
      fail('append failed', err);
    }
  }
  // Body i of the batch runs from ends[i - 1] (0 for the first) to ends[i]; a publish takes n in order.
  const starts = new Uint32Array(m.ends.length);
  for (let i = 1; i < m.ends.length; i++) starts[i] = m.ends[i - 1]!;
  let body = 0;
  for (const req of m.reqs) {
    const [op, session, , , n] = req;
    if (op === GONE) {
      queues.gone(session);
      output.drop(session);
      continue;
    }
    let bodies: Bodies | undefined;
    if (op === Op.publish) {
      bodies = { bytes: m.bytes, starts: starts.subarray(body, body + n), ends: m.ends.subarray(body, body + n) };
      body += n;
    }
    applyReq(queues, req, bodies);
  }
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(endTurn);
  }
});
