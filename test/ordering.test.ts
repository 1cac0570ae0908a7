// Ordering (docs/queue-semantics.md, "Ordering"): relaxed fairness across groups, strict FIFO per
// group with one message in flight per group, and the ordering window.
import t from 'tap';
import { prng } from './helpers/prng.js';
import { actorHarness, text, type Answer } from './helpers/actor.js';
import type { DeliveredMessage } from '../src/protocol/ops.js';


t.test('relaxed: deliveries rotate across groups, so a big backlog does not starve a small group', async (t) => {
  const q = actorHarness();
  for (let i = 0; i < 1000; i++) q.send(`big${i}`, 0, { groupId: 'big' });
  q.send('small0', 0, { groupId: 'small' });
  q.send('small1', 0, { groupId: 'small' });
  const first4 = q.receive(1, { max: 4 }).map((m) => m.groupId);
  t.same(first4, ['big', 'small', 'big', 'small'], 'round-robin over groups');
});

t.test('relaxed: several consumers may hold messages of one group at once', async (t) => {
  const q = actorHarness();
  for (let i = 0; i < 3; i++) q.send(`m${i}`, 0, { groupId: 'g' });
  t.equal(q.receive(0, { max: 3 }).length, 3);
});

t.test('strict: one message in flight per group; the group waits behind its head', async (t) => {
  const q = actorHarness({ ordering: 'strict', visibilityMs: 100 });
  for (let i = 0; i < 3; i++) q.send(`a${i}`, 0, { groupId: 'A' });
  for (let i = 0; i < 3; i++) q.send(`b${i}`, 0, { groupId: 'B' });
  const got = q.receive(0, { max: 10 });
  t.same(got.map(text).sort(), ['a0', 'b0'], 'one head per group, groups in parallel');
  t.same(q.receive(1, { max: 10 }), [], 'nothing more until the heads are done');
  q.nack(got.find((m) => m.groupId === 'A')!.receipt, 2);
  t.same(q.receive(2, { max: 10 }).map(text), ['a0'], 'a nacked head comes back first');
  q.tick(102);
  const again = q.receive(102, { max: 10 });
  t.same(again.map(text).sort(), ['a0', 'b0'], 'expired leases: the same heads again');
  for (const m of again) q.ok(q.del(m.receipt, 103));
  t.same(q.receive(103, { max: 10 }).map(text).sort(), ['a1', 'b1']);
});

t.test('strict: a dead-lettered head releases its group', async (t) => {
  const q = actorHarness({ ordering: 'strict', deadLetter: { queue: 'dlq', maxReceives: 1 } });
  q.send('x0', 0, { groupId: 'g' });
  q.send('x1', 0, { groupId: 'g' });
  const [m] = q.receive(0);
  t.same(q.nack(m!.receipt, 1), { deadLettered: true });
  t.same(q.receive(1).map(text), ['x1']);
});

t.test('strict: a long poll waiting on a blocked group is answered when the head is deleted', async (t) => {
  const q = actorHarness({ ordering: 'strict' });
  q.send('h', 0);
  q.send('n', 0);
  const [h] = q.receive(0);
  q.actor.handle({ op: 'receive', ref: 999, session: 1, args: { queue: 'q', waitMs: 1000 } }, 1);
  q.actor.endTurn(1);
  t.notOk(q.out.answers.has(999), 'waits: the only visible message is behind a leased head');
  q.ok(q.del(h!.receipt, 2));
  t.match(q.out.answers.get(999), { result: { messages: [{ seq: 1 }] } });
});

t.test('strict FIFO: 10,000 messages in 100 groups, random consumer failures, a restart in the middle', async (t) => {
  const rnd = prng(42);
  const q = actorHarness({ ordering: 'strict', visibilityMs: 1000 });
  const groups = 100;
  const perGroup = 100;
  const sentOrder = new Map<string, number[]>();
  let now = 0;
  // Producers interleave groups randomly; the acceptance order per group is what must come out.
  const next = Array.from({ length: groups }, () => 0);
  let total = 0;
  while (total < groups * perGroup) {
    const g = Math.floor(rnd() * groups);
    if (next[g] === perGroup) continue;
    const i = next[g]!++;
    q.send(`g${g}-${i}`, now, { groupId: `g${g}` });
    const list = sentOrder.get(`g${g}`) ?? [];
    list.push(i);
    sentOrder.set(`g${g}`, list);
    total++;
  }
  const acked = new Map<string, number[]>();
  const ackedCount = (): number => [...acked.values()].reduce((n, l) => n + l.length, 0);
  let restarted = false;
  let rounds = 0;
  let refusedDeletes = 0;
  while (ackedCount() < groups * perGroup && rounds < 100_000) {
    rounds++;
    now += 10;
    q.tick(now);
    const got: DeliveredMessage[] = q.receive(now, { max: 1 + Math.floor(rnd() * 50) });
    for (const m of got) {
      const fate = rnd();
      if (fate < 0.1) continue; // consumer crashed: the lease runs out
      if (fate < 0.2) {
        q.nack(m.receipt, now);
        continue;
      }
      const [g, i] = text(m).split('-') as [string, string];
      const r = q.del(m.receipt, now);
      if (!('result' in r)) refusedDeletes++;
      const list = acked.get(g) ?? [];
      list.push(Number(i));
      acked.set(g, list);
    }
    if (!restarted && ackedCount() >= (groups * perGroup) / 2) {
      restarted = true;
      q.restart(now); // leases are lost; heads come back first
    }
    if (got.length === 0) now += 1000; // only leased heads left: let leases expire
  }
  t.ok(restarted, 'restarted in the middle');
  t.equal(refusedDeletes, 0, 'every delete of a current lease is accepted');
  t.equal(ackedCount(), groups * perGroup, 'nothing lost');
  let inOrder = true;
  for (const [g, list] of acked) {
    for (let i = 0; i < list.length; i++) if (list[i] !== i) inOrder = false;
    if (list.length !== perGroup) inOrder = false;
    t.same(list, sentOrder.get(g)!.slice().sort((a, b) => a - b), `group ${g}: every message once, in order`);
  }
  t.ok(inOrder, 'acknowledged in acceptance order in every group, no duplicates');
  t.equal(q.actor.stats(now).messages, 0);
});

t.test('switching ordering rebuilds the delivery order with the messages in place', async (t) => {
  const q = actorHarness();
  q.send('a', 0, { groupId: 'g' });
  q.send('b', 0, { groupId: 'g' });
  const attrs = q.ok<{ attributes: { ordering: string; dedupWindowMs: number } }>(
    q.call({ op: 'setQueueAttributes', args: { queue: 'q', attributes: { ordering: 'strict' } } }, 0),
  ).attributes;
  t.equal(attrs.dedupWindowMs, 300_000, 'strict brings the 5 minute dedup window by default');
  t.same(q.receive(1, { max: 10 }).map(text), ['a'], 'now one in flight per group');
});

t.test('ordering window: shuffled producer timestamps come out in (timestamp, producer, seq) order', async (t) => {
  const rnd = prng(7);
  const q = actorHarness({ orderingWindowMs: 1000 });
  const events = Array.from({ length: 200 }, (_, i) => ({ ts: 10_000 + i * 5, producer: `p${i % 3}` }));
  const shuffled = [...events].sort(() => rnd() - 0.5);
  // They arrive within the window of their timestamps, in random order.
  for (const e of shuffled) q.send(`${e.ts}|${e.producer}`, 10_000, { timestamp: e.ts, producer: e.producer });
  t.equal(q.actor.stats(10_000).held, 200);
  t.same(q.receive(10_000), [], 'held until their window ends');
  const out: string[] = [];
  for (let now = 10_000; now <= 13_000; now += 100) {
    q.tick(now);
    for (let got = q.receive(now, { max: 1000 }); got.length > 0; got = q.receive(now, { max: 1000 })) {
      for (const m of got) {
        out.push(text(m));
        q.ok(q.del(m.receipt, now));
      }
    }
  }
  const expected = [...events].sort((a, b) => a.ts - b.ts || (a.producer < b.producer ? -1 : 1)).map((e) => `${e.ts}|${e.producer}`);
  t.same(out, expected);
  t.equal(q.actor.stats(13_000).late, 0);
});

t.test('ordering window: a message after its slot was released is delivered at once, marked late, counted', async (t) => {
  const q = actorHarness({ orderingWindowMs: 100 });
  q.send('on-time', 0, { timestamp: 1000, producer: 'a' });
  q.tick(1100);
  t.same(q.receive(1100).map(text), ['on-time']);
  q.send('late', 1150, { timestamp: 900, producer: 'b' });
  const [m] = q.receive(1150);
  t.equal(text(m!), 'late');
  t.equal(m!.late, true);
  t.equal(q.actor.stats(1150).late, 1);
});

t.test('ordering window survives a restart: held messages stay held, then release in order', async (t) => {
  const q = actorHarness({ orderingWindowMs: 1000 });
  q.send('second', 0, { timestamp: 200 });
  q.send('first', 0, { timestamp: 100 });
  q.restart(10);
  t.equal(q.actor.stats(10).held, 2);
  q.tick(1200);
  t.same(q.receive(1200, { max: 10 }).map(text), ['first', 'second']);
});

t.test('strict: sendIfGroup stores only while the queue holds a message of the group (partitioned queues)', async (t) => {
  const q = actorHarness({ ordering: 'strict', visibilityMs: 100 });
  const ifGroup = (group: string, body: string): Answer =>
    q.call({ op: 'sendIfGroup', args: { group, entries: [{ body: Buffer.from(body), groupId: group }] } }, 0);
  const stored = (a: Answer): boolean => 'result' in a && Array.isArray((a.result as { results?: unknown[] }).results);
  t.same(ifGroup('A', 'x'), { result: { notHere: true } }, 'refused while the group has no message here');
  q.send('a0', 0, { groupId: 'A' });
  q.send('n0', 0);
  t.same(q.call({ op: 'heldGroups' }, 0), { result: { groups: ['A', ''] } }, 'held groups, the ungrouped one included');
  t.ok(stored(ifGroup('A', 'a1')), 'stored while the group is here');
  const head = q.receive(0, { max: 10 }).find((m) => m.groupId === 'A')!;
  t.equal(text(head), 'a0', 'the group keeps its order');
  t.ok(stored(ifGroup('A', 'a2')), 'a leased head still counts: stored');
  for (let i = 0; i < 3; i++) {
    const m = i === 0 ? head : q.receive(0, { max: 10 }).find((d) => d.groupId === 'A')!;
    t.equal(text(m), `a${i}`, `a${i} in order`);
    q.del(m.receipt, 0);
  }
  t.same(ifGroup('A', 'late'), { result: { notHere: true } }, 'refused once its last message was deleted');
  t.same(q.call({ op: 'heldGroups' }, 0), { result: { groups: [''] } }, 'only the ungrouped group is left');
});
