/** Shared CLI pieces: flag parsing, `--url`/`--timeout`, connecting, error printing. */
import { Option, type Command } from 'commander';
import { connect, type FerryClient } from '../client/index.js';
import { validateUrls } from '../client/options.js';
import { FerryError } from '../protocol/errors.js';
import { isValidQueueName, Limits } from '../protocol/limits.js';

export const DEFAULT_URL = 'ws://127.0.0.1:7700/ws';

/** A problem the user can fix on the command line: printed as one line, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure to report as one line with a given exit code (not a server error). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Parses an optional integer flag; throws a UsageError naming the flag and its range. */
export function intFlag(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const s = String(raw).trim();
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}`);
  return n;
}

/** A flag in seconds, returned in ms (the protocol's unit). */
export function secondsFlag(flag: string, raw: string | undefined, minS: number, maxS: number): number | undefined {
  const s = intFlag(flag, raw, minS, maxS);
  return s === undefined ? undefined : s * 1000;
}

export function queueName(raw: string): string {
  if (!isValidQueueName(raw)) {
    throw new UsageError(`invalid queue name ${JSON.stringify(raw)}: 1 to ${Limits.queueNameMaxLength} of A-Z a-z 0-9 _ - with an optional .fifo suffix`);
  }
  return raw;
}

/** A cluster node id, as `--node-id` takes it. */
export function nodeIdArg(what: string, raw: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) throw new UsageError(`${what} must be a node id of 1 to 64 of A-Z a-z 0-9 _ -, got ${JSON.stringify(raw)}`);
  return raw;
}

export interface ClientFlags {
  url: string;
  timeout?: string;
}

/** Adds `--url` and `--timeout` to a client command. */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', 'broker WebSocket URL; several separated by commas').env('FERRY_URL').default(DEFAULT_URL))
    .option('--timeout <ms>', 'request timeout in ms (default 30000)');
}

export interface ClientSettings {
  urls: string[];
  timeoutMs: number | undefined;
}

/** Validates `--url` and `--timeout` (before anything connects). */
export function clientSettings(flags: ClientFlags): ClientSettings {
  const urls = String(flags.url).split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  try {
    validateUrls(urls);
  } catch {
    throw new UsageError(`--url must be one or more ws:// or wss:// URLs separated by commas, got ${JSON.stringify(flags.url)}`);
  }
  return { urls, timeoutMs: intFlag('--timeout', flags.timeout, 1, 3_600_000) };
}

/** Connects, runs `fn`, always closes the client. */
export async function withClient<T>(settings: ClientSettings, fn: (client: FerryClient) => Promise<T>, reconnect = false): Promise<T> {
  let client: FerryClient;
  try {
    client = await connect(settings.urls, {
      reconnect,
      ...(settings.timeoutMs === undefined ? {} : { requestTimeoutMs: settings.timeoutMs }),
    });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err), 1);
  }
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Prints an error as one line and sets the exit code: usage 2, everything else 1. */
export function reportError(err: unknown): void {
  if (err instanceof UsageError) {
    process.stderr.write(`ferry: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof CliError) {
    process.stderr.write(`ferry: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else if (err instanceof FerryError) {
    process.stderr.write(`ferry: ${err.code}: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`ferry: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

/** Wraps an action so that its errors print as one line. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      reportError(err);
    }
  };
}

export function utf8(body: Uint8Array): string {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}
