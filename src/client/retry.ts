/**
 * The SDK's retry policy: which requests `FerryClient.request` sends again by itself after a
 * retryable error (FerryError.retryable: NotLeader, NotEnoughReplicas, PeerUnavailable,
 * ShardUnavailable, ShuttingDown, TooManyInFlight, Timeout, ConnectionClosed), and for how long.
 * docs/protocol.md ("Retries in the TypeScript client") is the user-facing statement of this rule.
 *
 * A retryable error may come after the request was applied (NotEnoughReplicas: durable on the
 * leader; ConnectionClosed/Timeout: unknown), so only requests whose repetition does no harm are
 * repeated:
 * - ops whose effect is the same when applied twice (`IDEMPOTENT_OPS`);
 * - `send`/`sendBatch` when every message carries a `dedupId` (the queue answers a repeat inside its
 *   `dedupWindowMs` with `duplicate: true` instead of storing it again), or when the client said
 *   `retry.sends: 'always'` (duplicates are acceptable, or the queue has `contentDedup`);
 * - nothing else: deleteQueue, purgeQueue, nack, createGroup, deleteGroup, seek, the redrive ops,
 *   and sends without dedup ids surface the error and the caller decides. Subscriptions have their
 *   own resubscribe logic (subscription.ts) and are never repeated here.
 *
 * Attempts are spaced by the connection's reconnect backoff (`backoff` option: exponential from
 * `initialMs`, capped at `maxMs`, jittered) and a new attempt starts only while less than
 * `budgetMs` passed since the first one; then the last error surfaces.
 */
import type { FerryError } from '../protocol/errors.js';
import type { OpName } from '../protocol/ops.js';
import { backoffDelay } from './backoff.js';
import type { BackoffOptions } from './options.js';

/** How sends are retried: with dedup ids on every message (default), always, or never. */
export type SendRetry = 'dedupId' | 'always' | 'never';

export interface RetryOptions {
  /** Time from the first attempt after which no new attempt starts, ms. Default 20000. */
  budgetMs?: number;
  /** Default 'dedupId'. */
  sends?: SendRetry;
}

export const DEFAULT_RETRY: Required<RetryOptions> = Object.freeze({ budgetMs: 20_000, sends: 'dedupId' as SendRetry });

/** Ops whose repetition does no harm (a repeated delete answers `{deleted: false}`; a repeated receive may leave messages leased until their visibility timeout). */
export const IDEMPOTENT_OPS: ReadonlySet<OpName> = new Set<OpName>([
  'createQueue', 'getQueueAttributes', 'setQueueAttributes', 'listQueues', 'listGroups', 'listRedrives',
  'receive', 'delete', 'deleteBatch', 'deleteReceipts', 'changeVisibility',
]);

function everyEntryHasDedupId(op: OpName, args: Record<string, unknown>): boolean {
  if (op === 'send') return typeof args.dedupId === 'string';
  const entries = args.entries;
  return Array.isArray(entries) && entries.length > 0 && entries.every((e: unknown) => typeof (e as { dedupId?: unknown } | null)?.dedupId === 'string');
}

/** Whether request `op(args)` may ever be sent a second time, whatever the error (see the top comment). */
export function mayRepeat(op: OpName, args: Record<string, unknown>, sends: SendRetry): boolean {
  if (IDEMPOTENT_OPS.has(op)) return true;
  if (op === 'send' || op === 'sendBatch') return sends === 'always' || (sends === 'dedupId' && everyEntryHasDedupId(op, args));
  return false;
}

/** Whether request `op(args)` may be sent again after `err` (see the top comment). */
export function mayRetry(op: OpName, args: Record<string, unknown>, err: FerryError, sends: SendRetry): boolean {
  return err.retryable && mayRepeat(op, args, sends);
}

export interface RetryRun {
  budgetMs: number;
  backoff: Required<BackoffOptions>;
  /** True once the client is closed: no new attempt. */
  closed(): boolean;
  /** Called before each new attempt (for a debug log). */
  retrying?(attempt: number, delayMs: number, err: FerryError): void;
  random?: () => number;
}

/** Runs `attempt` until it succeeds, `retry(err)` says no, or the budget is spent. */
export async function withRetry<T>(attempt: () => Promise<T>, retry: (err: FerryError) => boolean, run: RetryRun): Promise<T> {
  const started = Date.now();
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const e = err as FerryError;
      if (typeof e?.retryable !== 'boolean' || !retry(e) || run.closed()) throw err;
      const delayMs = backoffDelay(n, run.backoff, run.random);
      if (Date.now() + delayMs - started >= run.budgetMs) throw err;
      run.retrying?.(n + 1, delayMs, e);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (run.closed()) throw err;
    }
  }
}
