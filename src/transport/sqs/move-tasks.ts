/**
 * Message move tasks (SQS's DLQ redrive) on the broker's redrive ops: `startRedrive {queue,
 * target?, ratePerSec?}`, `listRedrives {}`, `cancelRedrive {task}`, each answering with (or a
 * list of) `RedriveTask {task, queue, target?, state, moved, total, ratePerSec, startedAt, error?}`.
 * The TaskHandle SQS clients see is opaque: the source queue and the broker's task id, base64url.
 */
import { invalidValue } from './errors.js';
import { queueArn, type SqsIdentity } from './queue-url.js';

export interface BrokerRedriveTask {
  task: string;
  queue: string;
  target?: string;
  state: string;
  moved: number;
  total: number;
  ratePerSec: number;
  startedAt: number;
  error?: string;
}

/** Amazon's task states: RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED. */
export const STATES: Record<string, string> = { running: 'RUNNING', done: 'COMPLETED', cancelled: 'CANCELLED', failed: 'FAILED' };

export function encodeTaskHandle(queue: string, task: string): string {
  return Buffer.from(JSON.stringify({ q: queue, t: task }), 'utf8').toString('base64url');
}

export function decodeTaskHandle(handle: string): { queue: string; task: string } {
  try {
    const v = JSON.parse(Buffer.from(handle, 'base64url').toString('utf8')) as { q?: unknown; t?: unknown };
    if (typeof v.q === 'string' && typeof v.t === 'string') return { queue: v.q, task: v.t };
  } catch {
    // fall through
  }
  throw invalidValue('TaskHandle', 'is not a task handle of this broker.', handle);
}

/** ListMessageMoveTasksResultEntry (SQS API Reference). */
export function moveTaskEntry(t: BrokerRedriveTask, id: SqsIdentity): Record<string, unknown> {
  const status = STATES[t.state] ?? t.state.toUpperCase();
  const e: Record<string, unknown> = {
    Status: status,
    SourceArn: queueArn(id, t.queue),
    MaxNumberOfMessagesPerSecond: t.ratePerSec,
    ApproximateNumberOfMessagesMoved: t.moved,
    ApproximateNumberOfMessagesToMove: t.total,
    StartedTimestamp: t.startedAt,
  };
  // Amazon gives a TaskHandle only for a running task.
  if (status === 'RUNNING') e.TaskHandle = encodeTaskHandle(t.queue, t.task);
  if (t.target !== undefined) e.DestinationArn = queueArn(id, t.target);
  if (t.error !== undefined) e.FailureReason = t.error;
  return e;
}
