/**
 * Options of `connect()`, validated at once (undici style): a bad option throws a TypeError that
 * names it, before any socket is opened.
 */

import { DEFAULT_RETRY, type RetryOptions, type SendRetry } from './retry.js';

/** The logger the client writes to; a pino logger fits. */
export interface FerryLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface BackoffOptions {
  /** First reconnect delay, ms. Default 100. */
  initialMs?: number;
  /** Ceiling of the reconnect delay, ms. Default 5000. */
  maxMs?: number;
  /** Fraction of the delay taken off at random, 0..1. Default 0.5. */
  jitter?: number;
}

export interface ConnectOptions {
  /** A request with no reply after this long rejects with `Timeout`. Default 30000. A receive waits its waitMs on top. */
  requestTimeoutMs?: number;
  /** WebSocket handshake timeout, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Reconnect after an unexpected close. Default true. */
  reconnect?: boolean;
  backoff?: BackoffOptions;
  /**
   * Retries of retryable errors by the client itself (src/client/retry.ts, docs/protocol.md
   * "Retries in the TypeScript client"); `false` turns them off. Default `{ budgetMs: 20000, sends: 'dedupId' }`.
   */
  retry?: RetryOptions | false;
  logger?: FerryLogger;
}

export interface ResolvedOptions {
  urls: string[];
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  reconnect: boolean;
  backoff: Required<BackoffOptions>;
  /** Undefined: no retries. */
  retry: Required<RetryOptions> | undefined;
  logger: FerryLogger;
}

const noop = (): void => {};
export const silentLogger: FerryLogger = { debug: noop, info: noop, warn: noop, error: noop };

const CONNECT_KEYS = new Set(['requestTimeoutMs', 'connectTimeoutMs', 'reconnect', 'backoff', 'retry', 'logger']);
const RETRY_KEYS = new Set(['budgetMs', 'sends']);
const SEND_RETRY: readonly SendRetry[] = ['dedupId', 'always', 'never'];
const BACKOFF_KEYS = new Set(['initialMs', 'maxMs', 'jitter']);
/** setTimeout's ceiling. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An integer option from min to max, or `fallback` when absent; a bad one throws a TypeError naming it. */
export function intOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** A timer's length in ms: from 1 to setTimeout's ceiling. */
function timerMs(name: string, value: unknown, fallback: number): number {
  return intOption(name, value, fallback, 1, MAX_TIMER_MS);
}

export function validateUrls(urls: unknown): string[] {
  const list = typeof urls === 'string' ? [urls] : urls;
  if (!Array.isArray(list) || list.length === 0) throw new TypeError('urls must be a WebSocket URL or a non-empty array of them');
  return list.map((u: unknown) => {
    if (typeof u !== 'string') throw new TypeError(`urls: ${String(u)} is not a string`);
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new TypeError(`urls: ${JSON.stringify(u)} is not a valid URL`);
    }
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
      throw new TypeError(`urls: ${JSON.stringify(u)} must start with ws:// or wss://`);
    }
    return u;
  });
}

function resolveRetry(value: unknown): Required<RetryOptions> | undefined {
  if (value === false) return undefined;
  if (value === undefined) return { ...DEFAULT_RETRY };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('retry must be false or an object');
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!RETRY_KEYS.has(key)) throw new TypeError(`unknown option "retry.${key}"`);
  if (r.sends !== undefined && !SEND_RETRY.includes(r.sends as SendRetry)) {
    throw new TypeError(`retry.sends must be one of ${SEND_RETRY.join(', ')}, got ${String(r.sends)}`);
  }
  return { budgetMs: timerMs('retry.budgetMs', r.budgetMs, DEFAULT_RETRY.budgetMs), sends: (r.sends as SendRetry | undefined) ?? DEFAULT_RETRY.sends };
}

export function resolveOptions(urls: unknown, options: unknown): ResolvedOptions {
  const list = validateUrls(urls);
  const o = (options ?? {}) as Record<string, unknown>;
  if (typeof o !== 'object' || Array.isArray(o)) throw new TypeError('options must be an object');
  for (const key of Object.keys(o)) if (!CONNECT_KEYS.has(key)) throw new TypeError(`unknown option ${JSON.stringify(key)}`);
  if (o.reconnect !== undefined && typeof o.reconnect !== 'boolean') throw new TypeError('reconnect must be a boolean');
  const b = (o.backoff ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b)) throw new TypeError('backoff must be an object');
  for (const key of Object.keys(b)) if (!BACKOFF_KEYS.has(key)) throw new TypeError(`unknown option "backoff.${key}"`);
  const initialMs = timerMs('backoff.initialMs', b.initialMs, 100);
  const maxMs = timerMs('backoff.maxMs', b.maxMs, Math.max(5000, initialMs));
  if (maxMs < initialMs) throw new TypeError('backoff.maxMs must be at least backoff.initialMs');
  const jitter = b.jitter ?? 0.5;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) throw new TypeError(`backoff.jitter must be a number from 0 to 1, got ${String(jitter)}`);
  const logger = o.logger ?? silentLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof (logger as Record<string, unknown>)[level] !== 'function') throw new TypeError(`logger must have a ${level}() method`);
  }
  return {
    urls: list,
    requestTimeoutMs: timerMs('requestTimeoutMs', o.requestTimeoutMs, 30_000),
    connectTimeoutMs: timerMs('connectTimeoutMs', o.connectTimeoutMs, 10_000),
    reconnect: (o.reconnect as boolean | undefined) ?? true,
    backoff: { initialMs, maxMs, jitter },
    retry: resolveRetry(o.retry),
    logger: logger as FerryLogger,
  };
}
