// Sync pacing of a shard worker (actors/sync-pacer.ts): a sync is asked for at most once per
// interval; a request after a quiet spell goes at once.
import t from 'tap';
import { SyncPacer } from '../src/actors/sync-pacer.js';

t.test('at most one ask per interval, measured from the last ask', async (t) => {
  const pacer = new SyncPacer(1);
  t.equal(pacer.wait(100), 0, 'the first ask goes at once');
  t.ok(Math.abs(pacer.wait(100.4) - 0.6) < 1e-9, 'an ask within the interval waits for the rest of it');
  t.ok(Math.abs(pacer.wait(100.25) - 0.75) < 1e-9, 'waits are measured from the last ask, not from the last wait');
  t.equal(pacer.wait(101), 0, 'at the end of the interval it goes');
  t.ok(Math.abs(pacer.wait(101.5) - 0.5) < 1e-9, 'and the next interval starts there');
  t.equal(pacer.wait(250), 0, 'after a quiet spell at once');
});

t.test('interval 0: every ask goes at once; a bad interval is refused', async (t) => {
  const pacer = new SyncPacer(0);
  t.equal(pacer.wait(5), 0);
  t.equal(pacer.wait(5), 0);
  t.throws(() => new SyncPacer(-1), RangeError);
  t.throws(() => new SyncPacer(Number.NaN), RangeError);
});
