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

export interface PartitionRecord {
  name: string;
  id: string;
  leader: string;
  part?: { of: string; index: number; gen: number };
  layout?: { gen: number; active: number; total: number; history: number[] };
}

/** Every record of queue `name` in etcd (partition 0 first), read directly from etcd. */
export async function partitionRecords(etcdUrl: string, name: string): Promise<PartitionRecord[]> {
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({ hosts: etcdUrl });
  try {
    const all = await client.getAll().prefix(`/ferry/queues/${name}`).strings();
    return Object.values(all)
      .map((v) => JSON.parse(v) as PartitionRecord)
      .filter((r) => r.name === name || r.part?.of === name)
      .sort((a, b) => (a.part?.index ?? 0) - (b.part?.index ?? 0));
  } finally {
    client.close();
  }
}
