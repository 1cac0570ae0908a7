// SlotDeadlines (slot-deadlines.ts): the shard host's heap of (time, slot) in typed arrays.
import t from 'tap';
import { SlotDeadlines } from '../src/actors/slot-deadlines.js';

/** Pops everything, as [at, slot] pairs in the order they come out. */
function drain(h: SlotDeadlines): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let at = h.peekAt(); at !== undefined; at = h.peekAt()) {
    out.push([at, h.peekSlot()]);
    h.pop();
  }
  return out;
}

t.test('empty', async (t) => {
  const h = new SlotDeadlines();
  t.equal(h.peekAt(), undefined);
  t.equal(h.size, 0);
  h.pop();
  t.equal(h.size, 0, 'pop of an empty heap is a no-op');
});

t.test('comes out earliest first with its slot, through growth, equal times and large numbers', async (t) => {
  const h = new SlotDeadlines();
  // A fixed pseudo-random order (no Math.random: the same run every time).
  let x = 12345;
  const entries: Array<[number, number]> = [];
  for (let i = 0; i < 1000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const at = 1_700_000_000_000 + (x % 5000); // times like Date.now(), many equal
    entries.push([at, 2 ** 40 + i]);
    h.push(at, 2 ** 40 + i);
  }
  t.equal(h.size, 1000);
  const out = drain(h);
  t.equal(out.length, 1000);
  for (let i = 1; i < out.length; i++) if (out[i]![0] < out[i - 1]![0]) t.fail(`out of order at ${i}`);
  const key = (e: [number, number]): string => `${e[0]}:${e[1]}`;
  t.same(out.map(key).sort(), entries.map(key).sort(), 'every (time, slot) pair came out once, slots intact');
  t.equal(h.size, 0);
});

t.test('pushes between pops keep the order', async (t) => {
  const h = new SlotDeadlines();
  h.push(30, 3);
  h.push(10, 1);
  h.push(20, 2);
  t.equal(h.peekAt(), 10);
  t.equal(h.peekSlot(), 1);
  h.pop();
  h.push(5, 9);
  h.push(25, 7);
  t.same(drain(h), [[5, 9], [20, 2], [25, 7], [30, 3]]);
});
