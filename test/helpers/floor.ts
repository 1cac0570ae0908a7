/**
 * The floor pseudo-broker (loadtest/floor-server.ts) in tests: a started server that is stopped at
 * teardown, and a raw WebSocket to it that sends any bytes and collects every server frame.
 */
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { readServerFrames, type ServerFrame } from '../../loadtest/floor-frames.js';
import { FLOOR_SERVER, FloorProcess } from '../../loadtest/floor-process.js';
import { poll } from './bounded.js';

export async function startFloor(t: { teardown(fn: () => unknown): void }, args: readonly string[]): Promise<FloorProcess> {
  const floor = new FloorProcess(args);
  t.teardown(() => floor.stop(2000));
  await floor.start();
  return floor;
}

/** Runs floor-server with `args` and resolves with its exit and what it wrote to stderr (bounded). */
export function runFloorServer(args: readonly string[], timeoutMs = 10_000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [FLOOR_SERVER, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`floor-server ${args.join(' ')} still running after ${timeoutMs} ms`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** A raw WebSocket to a floor server: every frame it receives, in order, and how it closed. */
export class RawFloorSocket {
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly #ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer) => readServerFrames(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), (f) => this.frames.push(f)));
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  static async open(url: string): Promise<RawFloorSocket> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawFloorSocket(ws);
  }

  send(data: Uint8Array | string): void {
    this.#ws.send(data, { binary: typeof data !== 'string' });
  }

  /** Waits (bounded) until `n` frames in all have arrived; returns the frames from index `from` on. */
  async waitFrames(n: number, from = 0): Promise<ServerFrame[]> {
    await poll(`${n} frames from the floor`, () => (this.frames.length >= n ? true : undefined), { timeoutMs: 5000, intervalMs: 5 });
    return this.frames.slice(from);
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    return poll('the floor closing the connection', () => this.closed, { timeoutMs: 5000, intervalMs: 5 });
  }

  close(): void {
    this.#ws.terminate();
  }
}
