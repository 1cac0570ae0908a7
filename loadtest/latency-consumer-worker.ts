/**
 * The latency scenarios' consumer, in a worker thread of its own: on the harness's main thread its
 * receive path and its collections delayed the producer's pacing tick (a send made late is
 * stamped late, so that delay hid from the histogram), and the producer's work delayed the
 * consumer's reading (which the histogram did count). Here each has an event loop and a heap of its
 * own. Every broker's adapter runs here the same way: makeAdapter, open, consumer.
 *
 * Each body's age is recorded on the clock the producer stamped it with (clock.ts), into the
 * warm-up or the measured histogram by its stamp: a body stamped before the shared `measuredFrom`
 * belongs to the warm-up. The counts are published in shared memory for the main thread's bounded
 * wait; the histograms themselves travel back as messages (exact copies).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { makeAdapter } from './brokers.js';
import { msOfNs, stampNow } from './clock.js';
import { LatencyHistogram } from './histogram.js';
import { stampOf } from './load.js';
import { type ConsumerData, type FromConsumer, type ToConsumer, sharedViews } from './latency-consumer.js';

const data = workerData as ConsumerData;
const port = parentPort!;
const { measuredFromNs, counts } = sharedViews(data.shared);
const warm = new LatencyHistogram();
const measured = new LatencyHistogram();

function post(m: FromConsumer): void {
  port.postMessage(m);
}

const adapter = makeAdapter(data.broker, data.ferryUrl, () => undefined);
try {
  await adapter.open();
  const consumer = await adapter.consumer(data.queue, data.prefetch, (bodies) => {
    const now = stampNow();
    const from = msOfNs(Atomics.load(measuredFromNs, 0));
    for (const b of bodies) {
      const stamp = stampOf(b);
      (stamp < from ? warm : measured).recordMs(now - stamp);
    }
    Atomics.store(counts, 0, warm.count);
    Atomics.store(counts, 1, measured.count);
  });
  port.on('message', (m: ToConsumer) => {
    if (m.t === 'histograms') {
      post({ t: 'histograms', warm: warm.state(), measured: measured.state() });
    } else {
      // The thread ends once its connections are closed (the port is the last handle).
      void consumer.stop().finally(() => adapter.close()).catch(
        (err: unknown) => post({ t: 'failed', message: `stopping the consumer: ${String(err)}` }),
      ).finally(() => port.close());
    }
  });
  post({ t: 'ready' });
} catch (err) {
  await adapter.close().catch(() => undefined);
  post({ t: 'failed', message: (err as Error).message });
  port.close();
}
