/**
 * Bounded waiting for fault tests: every await on a broker that may be dying gets a deadline, so a
 * bug shows up as a failed assertion naming what hung, never as a test that runs until tap kills it.
 */

export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout';
  readonly code = 'WaitTimeout';
}

/** Resolves or rejects as `p` does, or rejects with WaitTimeout after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new WaitTimeout(`${what}: not settled within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * The one polling loop of the tests: calls `check` every `intervalMs` until it returns something
 * other than undefined, and rejects with WaitTimeout naming `what` after `timeoutMs`.
 */
export async function poll<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new WaitTimeout(`${what}: not there within ${opts.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

/** Polls `cond` every `intervalMs` until it is true; rejects with WaitTimeout after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> {
  await poll(opts.what, async () => ((await cond()) ? true : undefined), { timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs ?? 20 });
}

/** Settles how `p` settled, as a value: for requests that may legitimately fail during a fault. */
export async function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}
