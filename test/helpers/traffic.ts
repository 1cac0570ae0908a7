/**
 * Steady traffic on one queue for cluster tests that move it around: producers that retry
 * retryable errors, and a consumer that receives and deletes. It keeps the books the tests check:
 * every acknowledged send must be delivered at last, and no message whose delete was acknowledged
 * may be delivered again. Each send attempt has its own body, so a retried send that was applied
 * twice shows up as an extra message (at-least-once), never as a false "came back".
 */
import type * as Tap from 'tap';
import { FerryError, type FerryClient } from '../../src/client/index.js';
import { waitFor } from './cluster.js';
import { drainQueue } from './drain.js';

export interface Traffic {
  /** Bodies whose send was acknowledged. */
  readonly acked: Set<string>;
  /** Bodies whose delete was acknowledged (deleted: true). */
  readonly deleted: Set<string>;
  readonly received: Set<string>;
  /** Deliveries of a message after its delete was acknowledged. */
  readonly resurrected: string[];
  /** Errors that are not retryable. */
  readonly errors: string[];
  /** Waits for `count` more acknowledged sends (and some deliveries) from now. */
  progress(count: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The consumer's lease: a receive whose answer was lost (at-least-once) shows its messages again after it. */
const CONSUMER_LEASE_MS = 5_000;

export function startTraffic(client: FerryClient, queue: string, opts: { producers?: number; consume?: boolean; prefix?: string } = {}): Traffic {
  const acked = new Set<string>();
  const deleted = new Set<string>();
  const received = new Set<string>();
  const resurrected: string[] = [];
  const errors: string[] = [];
  let stopped = false;
  const prefix = opts.prefix ?? queue;
  const fail = (err: unknown): boolean => {
    if (err instanceof FerryError && err.retryable) return false;
    errors.push(String(err));
    return true;
  };
  const producer = async (w: number): Promise<void> => {
    for (let n = 0; !stopped; n++) {
      for (let attempt = 0; !stopped && attempt < 400; attempt++) {
        const body = `${prefix}-${w}-${n}-a${attempt}`;
        try {
          await client.queue(queue).send(body);
          acked.add(body);
          break;
        } catch (err) {
          if (fail(err)) return;
          await sleep(50);
        }
      }
    }
  };
  const consumer = async (): Promise<void> => {
    while (!stopped) {
      try {
        const msgs = await client.queue(queue).receive({ max: 20, waitMs: 200, visibilityMs: CONSUMER_LEASE_MS });
        for (const m of msgs) {
          const body = Buffer.from(m.body).toString();
          if (deleted.has(body)) resurrected.push(body);
          received.add(body);
        }
        if (msgs.length === 0) continue;
        const results = await client.queue(queue).deleteBatch(msgs.map((m) => m.receipt));
        results.forEach((r, i) => {
          if ('ok' in r && r.ok.deleted) deleted.add(Buffer.from(msgs[i]!.body).toString());
        });
      } catch (err) {
        if (fail(err)) return;
        await sleep(50);
      }
    }
  };
  const running = Promise.all([
    ...Array.from({ length: opts.producers ?? 2 }, (_, w) => producer(w)),
    ...(opts.consume === false ? [] : [consumer()]),
  ]);
  return {
    acked, deleted, received, resurrected, errors,
    async progress(count) {
      const target = acked.size + count;
      await waitFor(`${count} more acknowledged sends on ${queue}`, async () => (acked.size >= target || errors.length > 0 ? true : undefined), 60_000);
    },
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** After `stop`: drains what is left and checks the books (nothing lost, nothing deleted came back). */
export async function checkTraffic(t: Tap.Test, client: FerryClient, queue: string, traffic: Traffic): Promise<void> {
  t.same(traffic.errors, [], `${queue}: clients saw no error that is not retryable`);
  let rest = await drainQueue(client, queue, { timeoutMs: 30_000 });
  const missingNow = [...traffic.acked].filter((b) => !traffic.received.has(b) && !rest.some((d) => d.body === b));
  if (missingNow.length > 0) {
    t.comment(`${queue}: ${missingNow.length} not delivered yet (${missingNow.slice(0, 5).join(', ')}); waiting out the consumer's lease`);
    await sleep(CONSUMER_LEASE_MS + 1000);
    rest = [...rest, ...(await drainQueue(client, queue, { timeoutMs: 30_000 }))];
  }
  for (const d of rest) {
    if (traffic.deleted.has(d.body)) traffic.resurrected.push(d.body);
    traffic.received.add(d.body);
  }
  const missing = [...traffic.acked].filter((b) => !traffic.received.has(b));
  t.same(missing.slice(0, 20), [], `${queue}: every acknowledged send is delivered (${traffic.acked.size} acknowledged, ${traffic.deleted.size} deleted during the run, ${rest.length} left at the end)`);
  t.same(traffic.resurrected.slice(0, 20), [], `${queue}: no message came back after its delete was acknowledged`);
}
