// The load test's latency histogram: bucket edges, quantiles within its stated 0.8% error.
import t from 'tap';
import { LatencyHistogram, bucketOf, upperEdge } from '../loadtest/histogram.js';

t.test('every value lies within its bucket, and buckets are at most 1/128 wide', async (t) => {
  let bad = 0;
  for (const us of [0, 1, 127, 128, 129, 255, 256, 1000, 4095, 4096, 123_456, 9_999_999, 2 ** 35]) {
    const i = bucketOf(us);
    const hi = upperEdge(i);
    const lo = i === 0 ? 0 : upperEdge(i - 1) + 1;
    if (!(us >= lo && us <= hi)) bad++;
    if (us >= 128 && (hi - lo + 1) / us > 1 / 128 + 1e-9) bad++;
  }
  t.equal(bad, 0);
});

t.test('quantiles of a known distribution', async (t) => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 10_000; i++) h.recordMs(i / 100); // 0.01 .. 100 ms, uniform
  const s = h.summary();
  t.equal(s.count, 10_000);
  t.ok(Math.abs(s.p50 - 50) / 50 < 0.01, `p50 ${s.p50}`);
  t.ok(Math.abs(s.p99 - 99) / 99 < 0.01, `p99 ${s.p99}`);
  t.ok(Math.abs(s.p999 - 99.9) / 99.9 < 0.01, `p99.9 ${s.p999}`);
  t.equal(s.max, 100);
  t.ok(Math.abs(s.mean - 50.005) < 0.01, `mean ${s.mean}`);
});

t.test('an empty histogram reports zeros', async (t) => {
  t.same(new LatencyHistogram().summary(), { count: 0, p50: 0, p99: 0, p999: 0, max: 0, mean: 0 });
});

t.test('a histogram sent between threads as its state is the same histogram', async (t) => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 5_000; i++) h.recordMs(((i * 7919) % 10_007) / 37);
  const copy = LatencyHistogram.fromState(structuredClone(h.state()));
  t.same(copy.summary(), h.summary(), 'same count, percentiles, max and mean');
  t.same(copy.state(), h.state(), 'same counters, sum and min');
  copy.recordMs(1);
  t.equal(h.count, 5_000, 'the copy does not share its counters');
  t.throws(() => LatencyHistogram.fromState({ ...h.state(), counts: new Float64Array(3) }), RangeError);
});
