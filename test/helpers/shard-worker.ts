/**
 * A bare shard worker thread (dist/src/actors/shard-worker.js) for tests that talk to it without
 * a ShardPool: its syncer's reports go to a channel whose main-thread end is closed when the
 * worker exits. Such a test sees every answer as the worker posts it, including those it marks
 * `held` (a ShardPool would hold them until their write is durable).
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import type { ShardWorkerData } from '../../src/actors/shard-messages.js';

const WORKER_URL = new URL('../../dist/src/actors/shard-worker.js', import.meta.url);

export function startShardWorker(dir: string, options: { replicated?: boolean } = {}): Worker {
  const { port1, port2 } = new MessageChannel();
  const workerData: ShardWorkerData = { shard: 0, dir, bodyCacheBytes: 1 << 20, syncReports: port2, ...options };
  const worker = new Worker(WORKER_URL, { execArgv: [], workerData, transferList: [port2] });
  port1.unref();
  worker.once('exit', () => port1.close());
  return worker;
}
