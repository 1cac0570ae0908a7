/**
 * An optional trace of single-message sends through the broker's threads, for finding where a
 * message waits (loadtest/analysis.md, sixth session, "isolation"). Off unless the environment
 * variable FERRY_TRACE_DIR names a directory; when off, every hook is one test of a constant.
 *
 * A traced message is the body of a one-entry sendBatch (or send) whose first 8 bytes hold its
 * send stamp (float64, little-endian, ms on CLOCK_MONOTONIC: the load generator's clock.ts). The
 * stamp is the key that follows it through every thread. Each thread records (event, key, time)
 * into a preallocated array, on the same clock, and writes it out when the thread exits, as
 * `DIR/trace-<pid>-<threadId>.f64` (float64 triples). Hop events, in path order:
 *
 *   R  main thread: uWS hands over the WebSocket message that holds it
 *   M  main thread: the request is dispatched (decoded, validated)
 *   F  main thread: the shard pool posts the batch that carries it to its shard
 *   A  shard: the request is accepted into the turn
 *   T  shard: the turn that holds it ends (its commit starts)
 *   P  shard: that turn's early answers (pushes) are posted
 *   B  main thread: the push of it arrives from the shard
 *   L  main thread: the sessions' output that holds the push is written to the sockets
 *
 * F and P are stamped when the post returns: the thread at the other end may already have the
 * message (A before F, B before P) when the poster was preempted by it.
 *
 * Events that are known only for a group (a pool flush, a turn, a session flush) are recorded for
 * the keys waiting in that group: `hold` puts a key in a group, `markHeld` stamps them all.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { decodeFrame } from '../protocol/codec.js';

export const TRACE_DIR = process.env.FERRY_TRACE_DIR;
/** Whether this process traces: test this constant before calling anything else here. */
export const tracing = TRACE_DIR !== undefined && TRACE_DIR !== '';

export const TraceEvent = { M: 1, F: 2, A: 3, T: 4, P: 5, B: 6, L: 7, R: 8, spanStart: 9, spanEnd: 10 } as const;
export type TraceEvent = (typeof TraceEvent)[keyof typeof TraceEvent];

/**
 * What a thread was busy with, recorded as spans (spanStart/spanEnd with the kind as the key), to
 * tell a hop that waited behind other work on its thread from one that waited for a CPU.
 */
export const TraceSpan = { bigMessage: 1, shardAnswers: 2, poolFlush: 3, sessionsFlush: 4, mainGc: 5, workerGc: 6 } as const;
export type TraceSpan = (typeof TraceSpan)[keyof typeof TraceSpan];

/** Records a span of `kind` from `start` to now. */
export function traceSpan(kind: TraceSpan, start: number): void {
  traceMark(TraceEvent.spanStart, kind, start);
  traceMark(TraceEvent.spanEnd, kind);
}

/**
 * Groups of keys waiting for an event that comes for all of them at once: these, or any object
 * (the shard pool holds the keys bound for a shard under that shard's slot).
 */
export const TraceGroup = { turn: { group: 'turn' }, posted: { group: 'posted' }, sessionFlush: { group: 'sessionFlush' } } as const;
export type TraceGroup = object;

const CAPACITY = 600_000;
let records: Float64Array | undefined;
let n = 0;
const groups = new Map<object, number[]>();

export function traceNow(): number {
  return nowMs();
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Records this thread's collections as `gc` spans (their entries' times moved onto the trace's clock). */
function observeCollections(): void {
  const origin = nowMs() - performance.now();
  const kind = threadId === 0 ? TraceSpan.mainGc : TraceSpan.workerGc;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      traceMark(TraceEvent.spanStart, kind, origin + e.startTime);
      traceMark(TraceEvent.spanEnd, kind, origin + e.startTime + e.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}

function buffer(): Float64Array {
  if (records === undefined) {
    records = new Float64Array(CAPACITY * 3);
    observeCollections();
    process.on('exit', () => {
      try {
        writeFileSync(join(TRACE_DIR!, `trace-${process.pid}-${threadId}.f64`), records!.subarray(0, n * 3));
      } catch {
        // a trace that cannot be written is lost; the broker goes on
      }
    });
  }
  return records;
}

/** The key of a message body: its stamp, or NaN when it cannot carry one. */
export function traceKey(body: unknown): number {
  if (!(body instanceof Uint8Array) || body.byteLength < 8) return NaN;
  return new DataView(body.buffer, body.byteOffset, 8).getFloat64(0, true);
}

/** The key of a send's entries when it is a single message, else NaN. */
export function traceKeyOfEntries(entries: ReadonlyArray<{ body?: unknown }> | undefined): number {
  return entries !== undefined && entries.length === 1 ? traceKey(entries[0]!.body) : NaN;
}

/** Records `ev` for `key` at `at` (default: now; a NaN key is not traced). */
export function traceMark(ev: TraceEvent, key: number, at = nowMs()): void {
  if (Number.isNaN(key)) return;
  const r = buffer();
  if (n >= CAPACITY) return;
  r[n * 3] = ev;
  r[n * 3 + 1] = key;
  r[n * 3 + 2] = at;
  n++;
}

/** Records R at `at` for the single-message sends among a WebSocket message's decoded frames. */
export function traceReceived(decoded: unknown, at: number): void {
  for (const f of Array.isArray(decoded) ? decoded : [decoded]) {
    const frame = f as { op?: unknown; args?: { entries?: Array<{ body?: unknown }>; body?: unknown } } | null;
    if (frame?.op === 'sendBatch') traceMark(TraceEvent.R, traceKeyOfEntries(frame.args?.entries), at);
    else if (frame?.op === 'send') traceMark(TraceEvent.R, traceKey(frame.args?.body), at);
  }
}

/** Records `ev` for `key` now and puts it in `group`, to be stamped by its next `markHeld`. */
export function traceHold(ev: TraceEvent, key: number, group: TraceGroup): void {
  if (Number.isNaN(key)) return;
  traceMark(ev, key);
  const keys = groups.get(group);
  if (keys === undefined) groups.set(group, [key]);
  else keys.push(key);
}

/** Records `ev` now for every key held in `group`, and empties it (into group `next`, if given). */
export function traceMarkHeld(group: TraceGroup, ev: TraceEvent, next?: TraceGroup): void {
  const keys = groups.get(group);
  if (keys === undefined || keys.length === 0) return;
  groups.set(group, []);
  for (const k of keys) traceMark(ev, k);
  if (next === undefined) return;
  const after = groups.get(next);
  if (after === undefined) groups.set(next, keys);
  else after.push(...keys);
}

/** The keys of a push's messages, encoded by the shard (decoded again only when tracing). */
export function traceKeysOfPush(encoded: Uint8Array): number[] {
  try {
    const messages = decodeFrame(encoded) as Array<{ body?: unknown }>;
    return messages.map((m) => traceKey(m.body));
  } catch {
    return [];
  }
}
