// IdTable (src/common/id-table.ts): values by integer id for entries that come and go at a high
// rate, the Map replacement that does not keep replaced hash tables linked for V8's collector.
import t from 'tap';
import { IdTable } from '../src/common/id-table.js';

t.test('set, get, delete and size, like a Map by integer key', async (t) => {
  const table = new IdTable<string>();
  t.equal(table.size, 0);
  table.set(7, 'a');
  table.set(3, 'b');
  table.set(7, 'c');
  t.equal(table.size, 2, 'replacing a value does not count twice');
  t.equal(table.get(7), 'c');
  t.equal(table.get(3), 'b');
  t.equal(table.get(4), undefined);
  t.equal(table.delete(3), true);
  t.equal(table.delete(3), false, 'a second delete finds nothing');
  t.equal(table.size, 1);
  t.equal(table.get(3), undefined);
  table.clear();
  t.equal(table.size, 0, 'clear empties it');
  t.equal(table.get(7), undefined);
});

t.test('ids coming and going far apart: only the live ones are kept, values and entries ascending by id', async (t) => {
  const table = new IdTable<number>();
  const live: number[] = [];
  for (let id = 0; id < 200_000; id++) {
    table.set(id, id * 2);
    live.push(id);
    if (live.length > 20) table.delete(live.shift()!);
  }
  table.set(5, 10); // an old id back again
  t.equal(table.size, 21);
  t.same(table.values(), [10, ...live.map((id) => id * 2)]);
  t.same(table.entries(), [[5, 10], ...live.map((id) => [id, id * 2])]);
});

t.test('keys that are not non-negative safe integers are refused', async (t) => {
  const table = new IdTable<number>();
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) t.throws(() => table.set(bad, 0), RangeError, String(bad));
  t.equal(table.size, 0);
});
