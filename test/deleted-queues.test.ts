// The queues a cluster node remembers as deleted (supervisor/cluster/deleted-queues.ts): late log
// entries for them are refused for a while, and the set does not grow for the life of the process.
import t from 'tap';
import { DeletedQueues } from '../src/supervisor/cluster/deleted-queues.js';

t.test('a deleted queue is remembered for keepMs, then forgotten', async (t) => {
  const d = new DeletedQueues(1000);
  d.add('a', 0);
  t.ok(d.has('a', 0));
  t.ok(d.has('a', 999), 'still within keepMs');
  t.notOk(d.has('a', 1000), 'not after');
  t.notOk(d.has('b', 0), 'a queue never deleted');
});

t.test('old entries go as new ones come: the set stays bounded', async (t) => {
  const d = new DeletedQueues(1000);
  for (let i = 0; i < 10_000; i++) d.add(`q${i}`, i);
  t.ok(d.size <= 1001, `at most one keepMs worth of deletions remembered (${d.size})`);
  t.ok(d.has('q9999', 9999));
  t.notOk(d.has('q0', 9999));
});

t.test('deleting again renews the memory of a queue id', async (t) => {
  const d = new DeletedQueues(1000);
  d.add('a', 0);
  d.add('b', 500);
  d.add('a', 900);
  d.add('c', 1600); // forgets what was deleted before 600: b only up to then
  t.ok(d.has('a', 1600), 'a was deleted again at 900');
  t.notOk(d.has('b', 1600));
});

t.test('keepMs is validated', async (t) => {
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) t.throws(() => new DeletedQueues(bad), RangeError, String(bad));
});
