// lightestFirst (src/common/lightest-first.ts): the order in which the main thread serves shards
// and sessions at the end of an iteration, the least work first, equal weights in arrival order.
import t from 'tap';
import { lightestFirst } from '../src/common/lightest-first.js';

t.test('ascending weight; equal weights keep their order', async (t) => {
  const items = [
    { name: 'heavy', w: 1000 }, { name: 'light-a', w: 1 }, { name: 'mid', w: 10 }, { name: 'light-b', w: 1 }, { name: 'empty', w: 0 },
  ];
  t.same(lightestFirst(items, (i) => i.w).map((i) => i.name), ['empty', 'light-a', 'light-b', 'mid', 'heavy']);
  t.same(items.map((i) => i.name), ['heavy', 'light-a', 'mid', 'light-b', 'empty'], 'the input is left as it was');
});

t.test('zero or one destination comes back as given, without weighing', async (t) => {
  let weighed = 0;
  const weight = (n: number): number => (weighed++, n);
  const one = [5];
  t.equal(lightestFirst(one, weight), one);
  t.same(lightestFirst([], weight), []);
  t.equal(weighed, 0);
});

t.test('a light destination arriving after heavy ones goes first, whatever its place', async (t) => {
  for (let at = 0; at <= 4; at++) {
    const items = [100, 100, 100, 100];
    items.splice(at, 0, 1);
    t.equal(lightestFirst(items, (n) => n)[0], 1, `light at ${at}`);
  }
});
