/** Reconnect delays: exponential from `initialMs`, capped at `maxMs`, with a random part taken off. */
import type { BackoffOptions } from './options.js';

export function backoffDelay(attempt: number, b: Required<BackoffOptions>, random: () => number = Math.random): number {
  const base = Math.min(b.maxMs, b.initialMs * 2 ** Math.min(attempt, 30));
  return Math.max(1, Math.round(base * (1 - b.jitter * random())));
}
