// The dedup window (docs/queue-semantics.md, "Deduplication").
import t from 'tap';
import { actorHarness } from './helpers/actor.js';

t.test('a repeated dedupId inside the window is accepted without a second copy, and the reply says so', async (t) => {
  const q = actorHarness({ dedupWindowMs: 1000 });
  const first = q.send('a', 0, { dedupId: 'x' });
  const again = q.send('a', 500, { dedupId: 'x' });
  t.same(again, { messageId: first.messageId, seq: first.seq, duplicate: true });
  t.match(q.actor.stats(500), { messages: 1, duplicates: 1 });
  t.notOk('duplicate' in q.send('a', 1000, { dedupId: 'x' }), 'after the window it is a new message');
  t.equal(q.actor.stats(1000).messages, 2);
});

t.test('the window outlives the message: a resend after the first copy was consumed is still a duplicate', async (t) => {
  const q = actorHarness({ dedupWindowMs: 1000 });
  q.send('a', 0, { dedupId: 'x' });
  const [m] = q.receive(1);
  q.ok(q.del(m!.receipt, 2));
  t.match(q.send('a', 3, { dedupId: 'x' }), { duplicate: true });
  t.equal(q.actor.stats(3).messages, 0);
});

t.test('contentDedup: the body hash is the dedup id when none is given', async (t) => {
  const q = actorHarness({ dedupWindowMs: 1000, contentDedup: true });
  q.send('same body', 0);
  t.match(q.send('same body', 1), { duplicate: true });
  t.notOk('duplicate' in q.send('other body', 2));
  t.notOk('duplicate' in q.send('same body', 3, { dedupId: 'explicit' }), 'an explicit dedupId wins over the hash');
});

t.test('strict queues deduplicate for 5 minutes by default; off for relaxed', async (t) => {
  const strict = actorHarness({ ordering: 'strict' });
  strict.send('a', 0, { dedupId: 'x' });
  t.match(strict.send('a', 299_999, { dedupId: 'x' }), { duplicate: true });
  const relaxed = actorHarness();
  relaxed.send('a', 0, { dedupId: 'x' });
  t.notOk('duplicate' in relaxed.send('a', 1, { dedupId: 'x' }));
});

t.test('the window survives a restart, and expired ids are pruned from the store', async (t) => {
  const q = actorHarness({ dedupWindowMs: 1000 });
  q.send('a', 0, { dedupId: 'x' });
  q.restart(10);
  t.match(q.send('a', 20, { dedupId: 'x' }), { duplicate: true });
  q.send('b', 2000, { dedupId: 'y' });
  t.same([...q.store.dedup.keys()], ['i:y'], 'x pruned once its window passed');
});

t.test('inside one batch the second entry with the same id is the duplicate', async (t) => {
  const q = actorHarness({ dedupWindowMs: 1000 });
  const r = q.ok<{ results: unknown[] }>(q.call({ op: 'sendBatch', args: { queue: 'q', entries: [{ body: Buffer.from('a'), dedupId: 'd' }, { body: Buffer.from('a'), dedupId: 'd' }] } }, 0));
  t.match(r.results, [{ ok: { seq: 0 } }, { ok: { seq: 0, duplicate: true } }]);
});

t.test('a duplicate is accepted even when the queue is full now', async (t) => {
  const q = actorHarness({ dedupWindowMs: 1000, maxLength: 1 });
  q.send('a', 0, { dedupId: 'x' });
  t.match(q.send('a', 1, { dedupId: 'x' }), { duplicate: true });
});
