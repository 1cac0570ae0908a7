/**
 * A real broker process: `node dist/src/cli/main.js server` on a free loopback port over a
 * temporary data directory. Tests stop it with SIGTERM (clean) or SIGKILL (crash) and start it
 * again on the same directory; the load-test harness runs the broker it measures through it too
 * (loadtest/ferry-process.ts). Run `npm run build` first (`npm test` does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../loadtest/free-port.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from './paths.js';

// The built CLI, from test/helpers or dist/test/helpers (tests and the compiled load tests reuse these helpers).
export const FERRY_MAIN = repoPath('dist/src/cli/main.js');

export interface BrokerOptions {
  /** Loopback address to listen on (127.0.0.0/8). Default 127.0.0.1. */
  host?: string;
  /** Data directory; a new temporary one (removed by `cleanup`) when not given. */
  dataDir?: string;
  shards?: number;
  /** Extra `ferry server` flags. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Node flags before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** The port to listen on; a free one when not given. */
  port?: number;
  /** How long to wait for the ready line. Default 20 s. */
  readyTimeoutMs?: number;
}

export interface BrokerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class BrokerProcess {
  readonly dataDir: string;
  readonly #ownsDir: boolean;
  readonly #opts: BrokerOptions;
  #proc: ChildProcess | undefined;
  #exited: Promise<BrokerExit> | undefined;
  /** Everything the broker wrote to stdout/stderr (structured pino lines), for assertions and debugging. */
  output = '';
  port: number;

  constructor(opts: BrokerOptions = {}) {
    this.#opts = opts;
    this.port = opts.port ?? 0;
    this.#ownsDir = opts.dataDir === undefined;
    this.dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ferry-it-'));
  }

  get host(): string {
    return this.#opts.host ?? '127.0.0.1';
  }

  get url(): string {
    return `ws://${this.host}:${this.port}/ws`;
  }

  get httpUrl(): string {
    return `http://${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  get running(): boolean {
    return this.#proc !== undefined && this.#proc.exitCode === null && this.#proc.signalCode === null;
  }

  /**
   * Starts the broker and resolves once it printed its ready line. Reuses the last port on a restart.
   * The port is picked here rather than with --port 0: on Linux a port the kernel chose for a
   * listener cannot be bound again while connections to it linger in TIME_WAIT, so a restart on it
   * would fail for a minute.
   */
  async start(timeoutMs = this.#opts.readyTimeoutMs ?? 20_000): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const args = [
      ...(this.#opts.nodeArgs ?? []), FERRY_MAIN, 'server', '--host', this.host, '--port', String(this.port), '--data-dir', this.dataDir,
      '--shards', String(this.#opts.shards ?? 2), ...(this.#opts.args ?? []),
    ];
    const proc = spawn(process.execPath, args, { env: { ...process.env, ...this.#opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#proc = proc;
    this.#exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new Error(`broker not ready within ${timeoutMs} ms:\n${this.output.slice(-4000)}`)), timeoutMs);
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString();
        this.output += text;
        buffered += text;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const m = /"url":"ws:\/\/[^"]*:(\d+)\/ws"/.exec(line);
          if (m !== null && line.includes('ferry ready')) {
            this.port = Number(m[1]);
            clearTimeout(timer);
            resolve();
          }
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
      void this.#exited!.then((exit) => {
        clearTimeout(timer);
        reject(new Error(`broker exited before ready (${JSON.stringify(exit)}):\n${this.output.slice(-4000)}`));
      });
    });
  }

  /** Sends a signal and waits for the exit; SIGKILL after `killAfterMs` if it is still running then. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs?: number): Promise<BrokerExit> {
    const proc = this.#proc;
    if (proc === undefined || this.#exited === undefined) return { code: null, signal: null };
    if (this.running) proc.kill(signal);
    const force = killAfterMs === undefined ? undefined : setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
    const exit = await this.#exited;
    clearTimeout(force);
    this.#proc = undefined;
    return exit;
  }

  /** kill -9. */
  kill(): Promise<BrokerExit> {
    return this.stop('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops the broker (SIGKILL if still running) and removes a temporary data directory. */
  async cleanup(): Promise<void> {
    if (this.running) await this.kill();
    if (this.#ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}


/** Starts a broker for one tap test and cleans it up at teardown. */
export async function startBroker(t: { teardown(fn: () => unknown): void }, opts: BrokerOptions = {}): Promise<BrokerProcess> {
  const broker = new BrokerProcess(opts);
  t.teardown(() => broker.cleanup());
  await broker.start();
  return broker;
}
