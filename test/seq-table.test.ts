// SeqTable (src/actors/seq-table.ts): a queue actor's live messages by sequence, in insertion
// order, without a Map. Checked against a Map doing the same operations.
import t from 'tap';
import { SeqTable } from '../src/actors/seq-table.js';

interface Item {
  seq: number;
  tag: string;
}

const item = (seq: number, tag = `m${seq}`): Item => ({ seq, tag });

t.test('set, get, has, delete and size, like a Map by sequence', async (t) => {
  const table = new SeqTable<Item>();
  t.equal(table.size, 0);
  t.equal(table.first(), undefined);
  const a = item(7);
  table.set(a);
  table.set(item(3));
  t.equal(table.size, 2);
  t.equal(table.get(7), a);
  t.equal(table.get(3)?.tag, 'm3');
  t.equal(table.get(4), undefined);
  t.equal(table.has(3), true);
  t.equal(table.has(4), false);
  table.set(a);
  t.equal(table.size, 2, 'the same value again changes nothing');
  t.same([...table.values()].map((v) => v.seq), [7, 3], 'insertion order, not sequence order');
  t.equal(table.delete(3), true);
  t.equal(table.delete(3), false, 'a second delete finds nothing');
  t.equal(table.size, 1);
  t.equal(table.get(3), undefined);
  table.clear();
  t.equal(table.size, 0, 'clear empties it');
  t.equal(table.get(7), undefined);
  t.same([...table.values()], []);
});

t.test('a different value under a sequence replaces the old one and moves to the end of the order', async (t) => {
  const table = new SeqTable<Item>();
  table.set(item(1));
  table.set(item(2));
  table.set(item(1, 'again'));
  t.equal(table.size, 2);
  t.equal(table.get(1)?.tag, 'again');
  t.same([...table.values()].map((v) => v.tag), ['m2', 'again']);
  t.equal(table.first()?.tag, 'm2');
});

t.test('first and values skip deleted entries, and deleting while iterating is fine', async (t) => {
  const table = new SeqTable<Item>();
  for (let s = 0; s < 10; s++) table.set(item(s));
  table.delete(0);
  table.delete(1);
  table.delete(5);
  t.equal(table.first()?.seq, 2);
  const seen: number[] = [];
  for (const v of table.values()) {
    seen.push(v.seq);
    if (v.seq % 2 === 0) table.delete(v.seq + 1); // the next one goes before it is reached
  }
  t.same(seen, [2, 4, 6, 8]);
  t.same([...table.values()].map((v) => v.seq), [2, 4, 6, 8]);
});

t.test('sequences that are not non-negative safe integers are refused', async (t) => {
  const table = new SeqTable<Item>();
  for (const seq of [-1, 1.5, Number.NaN, 2 ** 53, Infinity]) t.throws(() => table.set(item(seq)), RangeError, `${seq}`);
  t.equal(table.size, 0);
});

t.test('random traffic agrees with a Map: sliding windows, strides of powers of two, large sequences', async (t) => {
  const patterns: Array<{ name: string; seqOf: (i: number) => number }> = [
    { name: 'dense', seqOf: (i) => i },
    { name: 'stride 1024', seqOf: (i) => i * 1024 },
    { name: 'stride 2^20', seqOf: (i) => i * 2 ** 20 },
    { name: 'above 2^32', seqOf: (i) => 2 ** 32 - 50 + i * 3 },
    { name: 'near 2^53', seqOf: (i) => 2 ** 53 - 1 - 7 * (20_000 - i) },
  ];
  for (const { name, seqOf } of patterns) {
    for (const seed of [1, 2, 3]) {
      let state = seed * 2654435761;
      const rand = (n: number): number => {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        return state % n;
      };
      const table = new SeqTable<Item>();
      const map = new Map<number, Item>();
      let next = 0;
      let ok = true;
      for (let step = 0; step < 20_000 && ok; step++) {
        const r = rand(100);
        if (r < 55 || map.size === 0) {
          const v = item(seqOf(next++));
          table.set(v);
          map.set(v.seq, v);
        } else if (r < 95) {
          // Mostly the oldest goes (in-order acks), sometimes any.
          const keys = [...map.keys()];
          const k = r < 80 ? keys[0]! : keys[rand(keys.length)]!;
          ok &&= table.delete(k) === map.delete(k);
        } else {
          const k = seqOf(rand(next + 5));
          ok &&= table.get(k) === map.get(k);
        }
        ok &&= table.size === map.size && table.first() === map.values().next().value;
      }
      t.ok(ok, `${name}, seed ${seed}: every step agrees`);
      t.same([...table.values()], [...map.values()], `${name}, seed ${seed}: same values in insertion order`);
      for (const k of map.keys()) ok &&= table.get(k) === map.get(k);
      t.ok(ok, `${name}, seed ${seed}: every key found`);
    }
  }
});

t.test('memory follows the live entries: the table shrinks and the insertion order is compacted', async (t) => {
  const table = new SeqTable<Item>();
  for (let s = 0; s < 10_000; s++) table.set(item(s));
  t.ok(table.capacity >= 20_000, 'at most half full');
  for (let s = 0; s < 9_990; s++) table.delete(s);
  t.equal(table.capacity, 1024, `shrunk to ${table.capacity}, not below 1024 once past it`);
  // A sliding window of 100 over a million sequences stays small.
  const window = new SeqTable<Item>();
  for (let s = 0; s < 1_000_000; s++) {
    window.set(item(s));
    if (s >= 100) window.delete(s - 100);
  }
  t.equal(window.size, 100);
  t.ok(window.capacity <= 256, `capacity ${window.capacity}: it never grew past 1024`);
  t.same([...window.values()].map((v) => v.seq), Array.from({ length: 100 }, (_, i) => 999_900 + i));
  t.ok(window.orderLength <= 2 * 100 + 64 + 1, `insertion order holds ${window.orderLength} entries`);
});

t.test('the insertion order stays small when first() keeps up with in-order deletes (a queue acked in order)', async (t) => {
  const table = new SeqTable<Item>();
  let longest = 0;
  let firstRight = true;
  for (let s = 0; s < 1_000_000; s++) {
    table.set(item(s));
    if (s >= 1000) table.delete(s - 1000);
    firstRight &&= table.first()?.seq === Math.max(0, s - 999);
    longest = Math.max(longest, table.orderLength);
  }
  t.ok(firstRight, 'first() is the oldest live entry after every step');
  t.equal(table.size, 1000);
  t.ok(longest <= 3 * 1000 + 64, `the order array never held more than ${longest} entries for 1,000 live ones`);
  t.same([...table.values()].map((v) => v.seq), Array.from({ length: 1000 }, (_, i) => 999_000 + i));
});
