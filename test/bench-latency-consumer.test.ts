// The latency scenarios' consumer runs in a thread of its own (loadtest/latency-consumer.ts): the
// producer stamps bodies on the harness's main thread, the consumer's thread reads the stamps, so
// both must read one clock (clock.ts: CLOCK_MONOTONIC; a worker's performance.now() starts at the
// worker's own start). Real broker, real worker thread, real sockets.
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { connect } from '../src/client/index.js';
import { msOfNs, nowNs, stampNow } from '../loadtest/clock.js';
import { LatencyConsumer } from '../loadtest/latency-consumer.js';
import { randomBody, stampedBody } from '../loadtest/load.js';
import { startBroker } from './helpers/broker.js';

t.test('the stamp clock is one clock across threads: a reading taken after another thread\'s is never earlier', async (t) => {
  // The worker reads process.hrtime, as clock.ts does, when asked; each answer must lie between the
  // main thread's readings before the question and after the answer.
  const worker = new Worker('const { parentPort } = require("node:worker_threads"); parentPort.on("message", () => parentPort.postMessage(process.hrtime.bigint()));', { eval: true });
  t.teardown(() => worker.terminate());
  let bad = 0;
  for (let i = 0; i < 200; i++) {
    const before = stampNow();
    const answer = await new Promise<bigint>((resolve) => {
      worker.once('message', resolve);
      worker.postMessage(null);
    });
    const after = stampNow();
    const theirs = msOfNs(answer);
    if (!(theirs >= before && theirs <= after)) bad++;
  }
  t.equal(bad, 0, 'every worker reading between the main thread\'s two');
  const a = nowNs();
  const b = nowNs();
  t.ok(msOfNs(b) >= msOfNs(a), 'msOfNs never goes back');
});

t.test('the consumer thread records each body\'s age by the producer\'s stamp, warm-up and measured apart', async (t) => {
  const broker = await startBroker(t);
  const client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  await client.createQueue('lat');
  const consumer = await LatencyConsumer.start('ferry', broker.url, 'lat');
  t.teardown(() => consumer.stop());
  const filler = randomBody(64);
  const q = client.queue('lat');
  const first = stampNow();
  for (let i = 0; i < 20; i++) await q.sendBatch([stampedBody(64, filler)]);
  consumer.measureFromNow();
  for (let i = 0; i < 30; i++) await q.sendBatch([stampedBody(64, filler)]);
  await consumer.waitForMeasured(30, 30_000);
  // Every warm-up body is in too: it was sent before the measured ones, on the same queue.
  const until = performance.now() + 30_000;
  let h = await consumer.histograms();
  while (h.warm.count < 20 && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
    h = await consumer.histograms();
  }
  const elapsed = stampNow() - first;
  t.equal(h.warm.count, 20, 'the bodies stamped before measureFromNow() are warm-up');
  t.equal(h.measured.count, 30, 'the ones after are measured');
  for (const [name, hist] of [['warm', h.warm], ['measured', h.measured]] as const) {
    const s = hist.state();
    // A negative age (a consumer clock behind the producer's) would be recorded as 0 µs.
    t.ok(s.min > 0, `${name}: no age is 0 or negative (min ${s.min} µs)`);
    t.ok(s.max <= elapsed * 1000, `${name}: no age exceeds the time since the first send (max ${s.max} µs, ${elapsed.toFixed(1)} ms)`);
  }
  await consumer.stop();
  await t.rejects(consumer.histograms(), 'a stopped consumer answers nothing more');
});

t.test('a consumer that cannot reach its broker fails to start, with the reason', async (t) => {
  await t.rejects(LatencyConsumer.start('ferry', 'ws://127.0.0.1:1', 'lat'), /latency consumer: ferry at ws:\/\/127\.0\.0\.1:1/);
});
