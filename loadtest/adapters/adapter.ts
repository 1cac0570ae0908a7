/**
 * What a scenario needs from a broker, the same for Ferry and the peers, so every broker is driven
 * and measured the same way (shared/PEERS.md: at most 1,000 unconfirmed per producer, every publish
 * confirmed by the broker, consumers ack every message).
 */

/** One client connection that publishes. */
export interface Producer {
  /** Publishes `bodies` to `queue`; resolves when the broker confirmed every one of them. */
  send(queue: string, bodies: readonly Uint8Array[]): Promise<void>;
  close(): Promise<void>;
}

/** A running consumer of one queue: it acks what it gets, and reports the bodies it got. */
export interface ConsumerHandle {
  stop(): Promise<void>;
}

export type OnBodies = (bodies: readonly Uint8Array[]) => void;

/** A connection that made one request and now stays open doing nothing (memory scenarios). */
export interface IdleClient {
  close(): Promise<void>;
}

export interface QueueOptions {
  /** Ferry only: strict FIFO ordering (message groups). */
  strict?: boolean;
}

export interface BrokerAdapter {
  /** Name in reports: ferry, rabbitmq-classic, rabbitmq-quorum, nats, redis. */
  readonly name: string;
  /** Connects an admin client; throws when the broker is not reachable. */
  open(): Promise<void>;
  /** The broker's version as it reports it. */
  readonly version: string;
  /** PIDs of the broker's server processes, for CPU time. */
  serverPids(): number[];
  createQueues(names: readonly string[], opts?: QueueOptions): Promise<void>;
  deleteQueues(names: readonly string[]): Promise<void>;
  producer(): Promise<Producer>;
  /** Starts consuming `queue` with up to `prefetch` unacked messages; `onBodies` sees every delivery. */
  consumer(queue: string, prefetch: number, onBodies: OnBodies): Promise<ConsumerHandle>;
  /**
   * Opens one more client connection (from `localAddress`, a 127.0.0.x, where the client library
   * lets it choose), makes one request about `queue` on it and leaves it open and idle. Gives up
   * (rejects, its socket closed) when `signal` aborts; bounds its own connect too (IDLE_CONNECT_MS).
   * The IdleClient's close() finishes within IDLE_CLOSE_MS (the socket is destroyed past it).
   */
  idleClient(queue: string, localAddress: string, signal: AbortSignal): Promise<IdleClient>;
  close(): Promise<void>;
}

/** How long an idle client's connect and handshake may take before the client library gives up. */
export const IDLE_CONNECT_MS = 10_000;
/** How long an idle client's orderly close may take before its socket is destroyed. */
export const IDLE_CLOSE_MS = 5_000;

/** Closes orderly, but destroys the socket if that takes longer than IDLE_CLOSE_MS (a peer that stopped answering). */
export async function closeOrDestroy(close: () => Promise<unknown>, destroy: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const orderly = close().then(() => true, () => false);
  const inTime = await Promise.race([orderly, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), IDLE_CLOSE_MS)))]);
  clearTimeout(timer);
  if (!inTime) destroy();
}

/** Runs `fn` with `onAbort` armed: once `signal` aborts, onAbort runs (and `fn` is expected to fail). */
async function abortable<T>(signal: AbortSignal, onAbort: () => void, fn: () => Promise<T>): Promise<T> {
  if (signal.aborted) throw new Error('aborted');
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn();
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * An idle client (memory-idle) whose fresh connection passed `check` (its queue is there): if the
 * check fails, or `signal` aborts it (`onAbort` drops the connection at once), the connection is
 * closed before the error goes on, so a failed open never leaves a socket behind.
 */
export async function checkedIdleClient(signal: AbortSignal, onAbort: () => void, check: () => Promise<unknown>, close: () => Promise<void>): Promise<IdleClient> {
  try {
    await abortable(signal, onAbort, check);
  } catch (err) {
    await close();
    throw err;
  }
  return { close };
}

/** The broker is not installed or not running: the report says "skipped", never a number. */
export class BrokerUnavailable extends Error {
  override readonly name = 'BrokerUnavailable';
  readonly code = 'BrokerUnavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A scenario needs a feature the broker does not have (yet): reported as "unsupported". */
export class Unsupported extends Error {
  override readonly name = 'Unsupported';
  readonly code = 'Unsupported';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Runs `fn` with a time limit; rejects with a timeout error naming `what`. */
export async function withTimeout<T>(what: string, ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** PID from a pid file, if the file exists and the process is alive. */
export async function pidFromFile(path: string): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  try {
    const pid = Number((await readFile(path, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}
