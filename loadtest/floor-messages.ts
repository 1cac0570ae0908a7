/**
 * What the floor server's main thread and its workers (hops=4) send each other, in the style of
 * Ferry's shard pool (src/supervisor/shard-pool.ts, src/actors/packing.ts): one postMessage per
 * destination per event-loop turn; a turn's published bodies back to back in one transferred
 * buffer with their end offsets; answers encoded by the worker, per session, ready to write.
 */
import { FrameWriter, Op, withRoom, type ClientFrame } from './floor-frames.js';
import type { Bodies, FloorOutput, FloorQueues } from './floor-queues.js';

/** A request routed to a worker: [op (floor-frames Op, or GONE), session, id, queue, n]. */
export type FloorReq = [op: number, session: number, id: number, queue: string, n: number];

/** op of a FloorReq that says a session closed (its subscriptions end). */
export const GONE = 0;

/** A client frame as a request on the queues; n is a publish's body count, a subscribe's prefetch, an ack's count. */
export function floorReq(session: number, f: ClientFrame): FloorReq {
  const n = f.op === Op.publish ? f.bodies.length : f.op === Op.subscribe ? f.prefetch : f.op === Op.ack ? f.count : 0;
  return [f.op, session, f.id, f.queue, n];
}

/** Runs one client request on `queues` (a publish's bodies in `bodies`): the main thread's (hops=2) or a worker's. */
export function applyReq(queues: FloorQueues, [op, session, id, queue, n]: FloorReq, bodies: Bodies | undefined): void {
  switch (op) {
    case Op.publish: queues.publish(session, id, queue, bodies!); break;
    case Op.subscribe: queues.subscribe(session, id, queue, n); break;
    case Op.ack: queues.ack(session, id, queue, n); break;
    case Op.create: queues.create(session, id, queue); break;
    case Op.delete: queues.delete(session, id, queue); break;
  }
}

export type ToFloorWorker =
  /** A turn's requests; publish n = its body count, taken in order from bytes/ends. */
  | { t: 'batch'; reqs: FloorReq[]; bytes: Uint8Array; ends: Uint32Array }
  | { t: 'close' };

export type FromFloorWorker =
  /** Encoded frames for sessions[i] in chunks[i]. */
  | { t: 'out'; sessions: number[]; chunks: Uint8Array[] }
  | { t: 'closed' };

export interface FloorWorkerData {
  worker: number;
  /** sync: append each turn's bodies to this file and confirm publishes after an fdatasync. */
  syncFile: string | undefined;
}

/** A turn's bodies for one worker, copied back to back as they are read (the socket's buffer is gone after the callback). */
export class BodyPacker {
  #bytes = new Uint8Array(64 * 1024);
  #at = 0;
  #ends: number[] = [];

  get count(): number {
    return this.#ends.length;
  }

  add(body: Uint8Array): void {
    this.#bytes = withRoom(this.#bytes, this.#at, body.byteLength);
    this.#bytes.set(body, this.#at);
    this.#at += body.byteLength;
    this.#ends.push(this.#at);
  }

  /** The bodies and their ends, each in a buffer of its own (to transfer); the next turn starts afresh. */
  take(): { bytes: Uint8Array; ends: Uint32Array } {
    const bytes = this.#bytes.subarray(0, this.#at);
    const ends = Uint32Array.from(this.#ends);
    this.#bytes = new Uint8Array(Math.max(64 * 1024, this.#at));
    this.#at = 0;
    this.#ends = [];
    return { bytes, ends };
  }
}

/** Frames per session for this turn (a session's writer stays, sized by its last turn, until dropped). */
export class SessionFrames {
  readonly #writers = new Map<number, FrameWriter>();
  #written: number[] = [];

  for(session: number): FrameWriter {
    let w = this.#writers.get(session);
    if (w === undefined) this.#writers.set(session, (w = new FrameWriter()));
    if (w.length === 0) this.#written.push(session);
    return w;
  }

  /** The session closed. */
  drop(session: number): void {
    this.#writers.delete(session);
  }

  /** Every session's frames of this turn, one buffer each. */
  take(): { sessions: number[]; chunks: Uint8Array[] } {
    const sessions: number[] = [];
    const chunks: Uint8Array[] = [];
    for (const s of this.#written) {
      const w = this.#writers.get(s);
      if (w === undefined || w.length === 0) continue;
      sessions.push(s);
      chunks.push(w.take());
    }
    this.#written = [];
    return { sessions, chunks };
  }
}

/**
 * The queues' answers as frames per session: confirms into `confirms` (the same frames as the rest,
 * or, in sync mode, frames held until their bodies are synced).
 */
export class FramesOutput implements FloorOutput {
  constructor(
    readonly now: SessionFrames,
    readonly confirms: SessionFrames = now,
  ) {}

  ok(session: number, id: number): void {
    this.now.for(session).ok(id);
  }

  confirm(session: number, id: number): void {
    this.confirms.for(session).ok(id);
  }

  error(session: number, id: number, code: string, message: string): void {
    this.now.for(session).error(id, code, message);
  }

  push(session: number, sub: number, bodies: Uint8Array[]): void {
    this.now.for(session).push(sub, bodies);
  }

  drop(session: number): void {
    this.now.drop(session);
    if (this.confirms !== this.now) this.confirms.drop(session);
  }
}
