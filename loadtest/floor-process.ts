/**
 * A floor server (floor-server.ts) as a process of its own, as the harness runs Ferry
 * (ferry-process.ts): started on a free loopback port, ready once it printed its ready line,
 * stopped with SIGTERM (SIGKILL if it does not exit in time). FERRY_BENCH_NODE_ARGS adds node
 * flags, as for Ferry.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchNodeArgs } from './node-args.js';

/** The compiled server (the workers it starts run from dist/ too), also when this module runs from source (tests). */
export const FLOOR_SERVER = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../dist/loadtest/floor-server.js' : './floor-server.js', import.meta.url));

/** The floor brokers the harness knows: name → floor-server flags. */
export const FLOOR_MODES: Record<string, readonly string[]> = {
  'floor-2': ['--hops', '2'],
  'floor-4': ['--hops', '4', '--workers', '2'],
  'floor-4-sync': ['--hops', '4', '--workers', '2', '--sync'],
};

/**
 * The floors: Ferry's thread shape without its logic, what that shape alone costs here. Not
 * peers, and not in the harness's default list: `--brokers ferry,floor-2,…`.
 */
export const FLOOR_BROKERS = Object.keys(FLOOR_MODES);

export function isFloor(name: string): boolean {
  return FLOOR_BROKERS.includes(name);
}

/** How reports and plots name a broker: a floor says it is one. */
export function brokerLabel(name: string): string {
  return isFloor(name) ? `${name} (floor)` : name;
}

export interface FloorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What the server's ready line says. */
export interface FloorReady {
  port: number;
  hops: number;
  workers: number;
  sync: boolean;
  /** sync: the directory of its files. */
  dir?: string;
  pid: number;
}

export class FloorProcess {
  #proc: ChildProcess | undefined;
  #exit: Promise<FloorExit> | undefined;
  #ready: FloorReady | undefined;
  /** What the process wrote (stdout and stderr), the last 16 kB. */
  output = '';

  constructor(readonly args: readonly string[]) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get port(): number {
    return this.#ready?.port ?? 0;
  }

  /** The ready line, once started. */
  get ready(): FloorReady | undefined {
    return this.#ready;
  }

  get pid(): number | undefined {
    return this.#proc?.exitCode === null && this.#proc.signalCode === null ? this.#proc.pid : undefined;
  }

  /** Starts it; resolves once it listens, rejects if it exits or is not ready within `timeoutMs`. */
  async start(timeoutMs = 20_000): Promise<void> {
    const proc = spawn(process.execPath, [...benchNodeArgs(), FLOOR_SERVER, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#proc = proc;
    this.#exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    const keep = (c: Buffer): void => {
      this.output = (this.output + c.toString()).slice(-16_384);
    };
    proc.stderr!.on('data', keep);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`floor server not ready within ${timeoutMs} ms:\n${this.output}`)), timeoutMs);
      proc.stdout!.on('data', (c: Buffer) => {
        keep(c);
        const m = /floor ready (\{.*\})/.exec(this.output);
        if (m === null || this.#ready !== undefined) return;
        this.#ready = JSON.parse(m[1]!) as FloorReady;
        clearTimeout(timer);
        resolve();
      });
      void this.#exit!.then((exit) => {
        clearTimeout(timer);
        reject(new Error(`floor server exited before ready (${JSON.stringify(exit)}):\n${this.output}`));
      });
    });
  }

  /** SIGTERM, and SIGKILL if it has not exited after `killAfterMs`; resolves with how it exited. */
  async stop(killAfterMs = 10_000): Promise<FloorExit> {
    const proc = this.#proc;
    if (proc === undefined || this.#exit === undefined) return { code: null, signal: null };
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const force = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
    const exit = await this.#exit;
    clearTimeout(force);
    return exit;
  }
}
