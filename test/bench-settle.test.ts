// loadtest/settle.ts: a scenario starts once the broker's CPU has gone quiet, bounded in time.
import t from 'tap';
import { settle, type SettleOptions } from '../loadtest/settle.js';

const OPTS: SettleOptions = { quietCores: 0.1, windowMs: 500, maxMs: 3000 };

/**
 * A CPU clock that advances by `perWindow[i]` CPU-seconds during the i-th window (the last
 * repeats), and meters of it as settle starts them (cpu.ts's CpuMeter over a real process).
 */
function cpuClock(perWindow: number[]): { read: () => { elapsed: () => number }; wait: () => Promise<void> } {
  let cpu = 8;
  let window = 0;
  return {
    read: () => {
      const start = cpu;
      return { elapsed: () => cpu - start };
    },
    wait: async () => {
      cpu += perWindow[Math.min(window, perWindow.length - 1)]!;
      window++;
    },
  };
}

t.test('waits window by window until one is quiet', async (t) => {
  const c = cpuClock([0.5, 0.25, 0.03125]); // 1, 0.5, then 0.0625 cores (exact in binary)
  const r = await settle(c.read, OPTS, c.wait);
  t.same(r, { quiet: true, waitedMs: 1500, lastCores: 0.0625 });
});

t.test('a quiet broker starts after one window', async (t) => {
  const c = cpuClock([0]);
  t.same(await settle(c.read, OPTS, c.wait), { quiet: true, waitedMs: 500, lastCores: 0 });
});

t.test('a broker that stays busy is given up on at maxMs, with its last load', async (t) => {
  const c = cpuClock([0.5]);
  const r = await settle(c.read, OPTS, c.wait);
  t.equal(r.quiet, false);
  t.equal(r.waitedMs, 3000);
  t.equal(r.lastCores, 1);
});

t.test('unreadable CPU (no process) does not wait', async (t) => {
  let waits = 0;
  const r = await settle(() => ({ elapsed: () => undefined }), OPTS, async () => void waits++);
  t.same(r, { quiet: false, waitedMs: 0, lastCores: undefined });
  t.equal(waits, 0);
});
