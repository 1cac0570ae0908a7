/**
 * The saturating load of the isolation scenario, in a worker thread of its own: if it ran on the
 * harness's event loop, the light queue's latency would measure the harness being busy rather than
 * the broker. 4 producers publish to one queue as fast as confirms allow until told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { makeAdapter } from './brokers.js';
import { closeAll, openProducers, publish, randomBody } from './load.js';

export interface SaturateData {
  broker: string;
  ferryUrl: string;
  queue: string;
  bodyBytes: number;
  /** Hard stop, ms from start, in case the stop message never comes. */
  maxMs: number;
}

const data = workerData as SaturateData;
const port = parentPort!;
let stop = false;
port.on('message', () => (stop = true));

const adapter = makeAdapter(data.broker, data.ferryUrl, () => undefined);
await adapter.open();
const producers = await openProducers(adapter, 4);
const body = randomBody(data.bodyBytes);
const t0 = performance.now();
let confirmed = 0;
port.postMessage({ t: 'started' });
try {
  confirmed = await publish({
    producers, queueFor: () => data.queue, perProducer: Number.MAX_SAFE_INTEGER, batch: 100, window: 10,
    deadline: t0 + data.maxMs, body: () => body, stopped: () => stop,
  });
} finally {
  await closeAll(producers);
  await adapter.close();
}
port.postMessage({ t: 'done', confirmed, seconds: (performance.now() - t0) / 1000 });
port.close();
