/**
 * Opening and closing many connections with bounds on both count and time, so a broker that stops
 * answering (accepts connections and says nothing, or never accepts) ends a scenario with what it
 * reached instead of hanging the harness, and every connection made is closed again, so the peer
 * is not left holding thousands of half-open clients for the scenarios after it.
 */

export interface Closable {
  close(): Promise<void>;
}

export interface OpenManyPlan<C extends Closable> {
  count: number;
  /** Attempts in flight at once. */
  concurrency: number;
  /** Each attempt's bound: past it the attempt fails, its signal aborts, and a connection it still makes is closed. */
  attemptMs: number;
  /** performance.now() time after which no attempt starts and any running one is given up. */
  deadline: number;
  /** Opens connection `i`; should give up (reject) when `signal` aborts. */
  open(i: number, signal: AbortSignal): Promise<C>;
  /** After each connection opened, with the number open so far. */
  onOpened?(opened: number): void;
}

export interface OpenManyResult<C> {
  /** Every connection that was opened and not given up, in the order they opened. */
  opened: C[];
  /** Why it stopped short of `count` (the first failed attempt, or the deadline); undefined when it opened all. */
  stoppedBy?: string;
}

export class AttemptTimeout extends Error {
  override readonly name = 'AttemptTimeout';
  readonly code = 'AttemptTimeout';
}

/**
 * Opens up to `count` connections, `concurrency` at a time. Stops at the first failed attempt or
 * at the deadline, whichever comes first, and says which; never waits past the deadline.
 */
export async function openMany<C extends Closable>(plan: OpenManyPlan<C>): Promise<OpenManyResult<C>> {
  const opened: C[] = [];
  let next = 0;
  let stoppedBy: string | undefined;
  const lane = async (): Promise<void> => {
    while (next < plan.count && stoppedBy === undefined) {
      const left = plan.deadline - performance.now();
      if (left <= 0) {
        stoppedBy = 'the deadline passed';
        return;
      }
      const i = next++;
      try {
        opened.push(await attempt((signal) => plan.open(i, signal), Math.min(plan.attemptMs, left), `connection ${i + 1}`));
        plan.onOpened?.(opened.length);
      } catch (err) {
        const cutByDeadline = err instanceof AttemptTimeout && left < plan.attemptMs;
        stoppedBy ??= cutByDeadline ? `the deadline passed` : `connection ${i + 1} of ${plan.count} failed: ${(err as Error).message}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(plan.concurrency, plan.count)) }, lane));
  return stoppedBy === undefined ? { opened } : { opened, stoppedBy };
}

/**
 * Runs one open with a time bound. On timeout the signal aborts and the attempt rejects at once;
 * if the open still succeeds later, that connection is closed (not leaked).
 */
export async function attempt<C extends Closable>(open: (signal: AbortSignal) => Promise<C>, ms: number, what: string): Promise<C> {
  const abort = new AbortController();
  const pending = open(abort.signal);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new AttemptTimeout(`${what}: no answer within ${Math.round(ms)} ms`)); // first: aborting may reject the open at once
          abort.abort();
        }, ms);
      }),
    ]);
  } catch (err) {
    pending.then((late) => late.close().catch(() => undefined), () => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Closes everything, `concurrency` at a time, each close bounded by `closeMs` (a close that does
 * not finish in time is left to finish on its own). Resolves when all are done or given up.
 */
export async function closeMany(items: readonly Closable[], concurrency: number, closeMs: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        item.close().catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, closeMs))),
      ]);
      clearTimeout(timer);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
}
