/**
 * Small probes for tests of moves between queues in a cluster (cluster-moves*.test.ts): how many
 * messages a queue holds, waiting for a count, and which node leads each queue.
 */
import type { FerryClient } from '../../src/client/index.js';
import { queueMeta, waitFor, type TestCluster } from './cluster.js';

export async function count(client: FerryClient, queue: string): Promise<number> {
  return (await client.getQueueAttributes(queue)).stats.messages;
}

export function waitForCount(client: FerryClient, queue: string, n: number, timeoutMs = 30_000): Promise<true> {
  return waitFor(`${n} messages in ${queue}`, async () => ((await count(client, queue)) === n ? true : undefined), timeoutMs);
}

/** The leader of each queue, from etcd. */
export async function leaders(cluster: TestCluster, names: string[]): Promise<string[]> {
  return Promise.all(names.map(async (n) => (await queueMeta(cluster.etcd.url, n))!.leader));
}
