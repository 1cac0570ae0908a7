/**
 * Consumers of partitioned-queue tests: receive and delete through every node in turn until
 * `expected` messages arrived (bounded), returning each group's bodies in delivery order.
 */
import type { FerryClient } from '../../src/client/index.js';

export async function drainQueue(clients: readonly FerryClient[], queue: string, expected: number, timeoutMs = 60_000): Promise<Map<string, string[]>> {
  const got = new Map<string, string[]>();
  let count = 0;
  const deadline = Date.now() + timeoutMs;
  for (let turn = 0; count < expected; turn++) {
    if (Date.now() > deadline) throw new Error(`only ${count} of ${expected} messages arrived within ${timeoutMs} ms`);
    const c = clients[turn % clients.length]!;
    const msgs = await c.queue(queue).receive({ max: 10, waitMs: 200 });
    for (const m of msgs) {
      const g = m.groupId ?? '';
      if (!got.has(g)) got.set(g, []);
      got.get(g)!.push(Buffer.from(m.body).toString());
      count++;
      await c.queue(queue).delete(m.receipt);
    }
  }
  return got;
}
