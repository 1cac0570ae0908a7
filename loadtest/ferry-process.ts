/**
 * The Ferry broker the harness measures: its own process (`node dist/src/cli/main.js server`) on a
 * free loopback port over a temporary data directory, killed and removed at the end.
 * FERRY_BENCH_NODE_ARGS adds node flags (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FERRY_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export class FerryProcess {
  dataDir = mkdtempSync(join(tmpdir(), 'ferry-bench-'));
  port = 0;
  #proc: ChildProcess | undefined;
  #output = '';

  constructor(readonly shards: number) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** Starts the broker on a free port, or on `port` (a restart keeps its URL). */
  async start(readyTimeoutMs = 30_000, port?: number): Promise<void> {
    this.port = port ?? (await freePort());
    const nodeArgs = (process.env.FERRY_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
    const args = [...nodeArgs, FERRY_MAIN, 'server', '--host', '127.0.0.1', '--port', String(this.port), '--data-dir', this.dataDir, '--shards', String(this.shards)];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#proc = proc;
    this.#output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ferry not ready within ${readyTimeoutMs} ms:\n${this.#output.slice(-2000)}`)), readyTimeoutMs);
      proc.stdout!.on('data', (chunk: Buffer) => {
        this.#output = (this.#output + chunk.toString()).slice(-20_000);
        if (this.#output.includes('ferry ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.stderr!.on('data', (chunk: Buffer) => (this.#output = (this.#output + chunk.toString()).slice(-20_000)));
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`ferry exited before ready (code ${code}, signal ${signal}):\n${this.#output.slice(-2000)}`));
      });
    });
  }

  /** A new broker on the same port over a new, empty data directory (a memory scenario measures it from its start). */
  async restart(): Promise<void> {
    const port = this.port;
    await this.stop();
    this.dataDir = mkdtempSync(join(tmpdir(), 'ferry-bench-'));
    await this.start(30_000, port);
  }

  /**
   * Stops the broker (SIGTERM) and starts it again over the same data directory and port: what
   * it holds must come back from disk. Resolves with the seconds from the new process's spawn to
   * its "ferry ready" (node start-up plus recovery), bounded by `readyTimeoutMs`.
   */
  async restartInPlace(readyTimeoutMs: number): Promise<{ readySeconds: number }> {
    await this.#terminate();
    const t0 = performance.now();
    await this.start(readyTimeoutMs, this.port);
    return { readySeconds: (performance.now() - t0) / 1000 };
  }

  /** SIGTERM (so --cpu-prof writes its profile), SIGKILL after 15 s; then the data directory goes. */
  async stop(): Promise<void> {
    await this.#terminate();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async #terminate(): Promise<void> {
    const proc = this.#proc;
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const force = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(force);
    }
    this.#proc = undefined;
  }
}
