/**
 * Runs the built `ferry` CLI (dist/src/cli/main.js) as a child process, as a user would. Build
 * first (`npm test` does). At most four run at once, so tests may start many early and await later.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { FERRY_MAIN } from './broker.js';

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed. */
  input?: string;
}

let slots = 4;
const waiting: (() => void)[] = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (slots === 0) await new Promise<void>((r) => waiting.push(r));
  else slots--;
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else slots++;
  }
}

function cliEnv(extra: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (extra?.FERRY_URL === undefined) delete env.FERRY_URL;
  // tap's loader hooks (NODE_OPTIONS) are not needed to run compiled JS, and slow every spawn.
  delete env.NODE_OPTIONS;
  return env;
}

/** Runs `ferry ARGS…` to completion. */
export function ferry(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  return limited(() => new Promise<CliRun>((resolve, reject) => {
    const child = startFerry(args, opts);
    child.on('error', reject);
    void child.exited.then(resolve);
  }));
}

/** A running `ferry` process (tail, or a receive that waits), with its output so far. */
export interface RunningFerry extends ChildProcessWithoutNullStreams {
  output: { stdout: string; stderr: string };
  exited: Promise<CliRun>;
}

/** Starts `ferry ARGS…` and returns at once; stdin is closed unless `keepStdin`. */
export function startFerry(args: string[], opts: CliOptions & { keepStdin?: boolean } = {}): RunningFerry {
  const child = spawn(process.execPath, [FERRY_MAIN, ...args], { env: cliEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] }) as RunningFerry;
  child.output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (child.output.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (child.output.stderr += d.toString()));
  child.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, ...child.output })));
  if (!opts.keepStdin) child.stdin.end(opts.input ?? '');
  return child;
}
