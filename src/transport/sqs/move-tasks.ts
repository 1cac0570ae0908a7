/**
 * Message move tasks (SQS's DLQ redrive) on the broker's redrive ops: `startRedrive`,
 * `listRedrives`, `cancelRedrive`. The TaskHandle is opaque to clients: it carries the source queue
 * and the broker's task id (base64url JSON), so CancelMessageMoveTask can route to the queue.
 */
import { invalidValue } from './errors.js';

export interface BrokerRedriveTask {
  taskId: string;
  status: string;
  queue?: string;
  destination?: string;
  maxPerSecond?: number;
  moved?: number;
  toMove?: number;
  failureReason?: string;
  startedAt?: number;
}

export function encodeTaskHandle(queue: string, taskId: string): string {
  return Buffer.from(JSON.stringify({ q: queue, t: taskId }), 'utf8').toString('base64url');
}

export function decodeTaskHandle(handle: string): { queue: string; taskId: string } {
  try {
    const v = JSON.parse(Buffer.from(handle, 'base64url').toString('utf8')) as { q?: unknown; t?: unknown };
    if (typeof v.q === 'string' && typeof v.t === 'string') return { queue: v.q, taskId: v.t };
  } catch {
    // fall through
  }
  throw invalidValue('TaskHandle', 'is not a task handle of this broker.', handle);
}
