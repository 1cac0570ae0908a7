// Stream mode (docs/queue-semantics.md, "Stream mode"): the log keeps messages until retention;
// named consumer groups read it at their own positions with their own leases.
import t from 'tap';
import { actorHarness, text, type Harness } from './helpers/actor.js';
import type { StreamGroupInfo } from '../src/protocol/ops.js';

function stream(attrs: Record<string, unknown> = {}): Harness {
  return actorHarness({ mode: 'stream', visibilityMs: 100, ...attrs });
}

const group = (q: Harness, name: string, start: unknown, now = 0): StreamGroupInfo =>
  q.ok<StreamGroupInfo>(q.call({ op: 'createGroup', args: { queue: 'q', group: name, start } } as never, now));

const read = (q: Harness, g: string, now: number, max = 100) => q.receive(now, { group: g, max });

t.test('two groups at different positions each see every message; acks do not remove anything', async (t) => {
  const q = stream();
  for (let i = 0; i < 5; i++) q.send(`m${i}`, i);
  group(q, 'a', 'earliest');
  group(q, 'b', { offset: 3 });
  const a = read(q, 'a', 10);
  t.same(a.map(text), ['m0', 'm1', 'm2', 'm3', 'm4']);
  t.same(read(q, 'b', 10).map(text), ['m3', 'm4'], 'b starts at offset 3');
  for (const m of a) q.ok(q.del(m.receipt, 11));
  t.equal(q.actor.stats(11).messages, 5, 'the log keeps its messages');
  q.send('m5', 12);
  t.same(read(q, 'a', 13).map(text), ['m5']);
  t.same(read(q, 'b', 13).map(text), ['m5']);
  const groups = q.ok<{ groups: StreamGroupInfo[] }>(q.call({ op: 'listGroups', args: { queue: 'q' } } as never, 14)).groups;
  t.match(groups.find((g) => g.group === 'a'), { committed: 5, position: 6, leased: 1 });
  t.match(groups.find((g) => g.group === 'b'), { committed: 3, position: 6, leased: 3 });
});

t.test('latest starts at the end; timestamp at the first message accepted at or after it', async (t) => {
  const q = stream();
  q.send('old', 100);
  q.send('new', 200);
  group(q, 'late', 'latest');
  group(q, 'ts', { timestamp: 150 });
  t.same(read(q, 'late', 300), []);
  t.same(read(q, 'ts', 300).map(text), ['new']);
});

t.test('leases are per group: an expired lease redelivers to that group first, with its own count', async (t) => {
  const q = stream();
  q.send('x', 0);
  q.send('y', 0);
  group(q, 'a', 'earliest');
  group(q, 'b', 'earliest');
  const [ax] = read(q, 'a', 0, 1);
  t.same(read(q, 'b', 0, 1).map(text), ['x'], 'b reads x although a holds it');
  q.tick(100);
  const again = read(q, 'a', 100, 1);
  t.equal(text(again[0]!), 'x', 'redelivery before new messages');
  t.equal(again[0]!.receiveCount, 2);
  t.match(q.del(ax!.receipt, 101), { error: { code: 'ReceiptHandleExpired' } }, 'a stale receipt of the group');
  t.same(q.nack(again[0]!.receipt, 101), { visibleAt: 101 });
  t.equal(read(q, 'a', 101, 1)[0]!.receiveCount, 3);
});

t.test('seek replays; committed positions survive a restart (at-least-once above them)', async (t) => {
  const q = stream();
  for (let i = 0; i < 4; i++) q.send(`m${i}`, 0);
  group(q, 'g', 'earliest');
  const got = read(q, 'g', 1);
  q.ok(q.del(got[0]!.receipt, 2));
  q.ok(q.del(got[1]!.receipt, 2));
  q.ok(q.del(got[3]!.receipt, 2)); // m2 not acknowledged: committed stops at 2
  q.restart(3);
  t.same(read(q, 'g', 3).map(text), ['m2', 'm3'], 'resumes at committed');
  t.match(q.ok(q.call({ op: 'seek', args: { queue: 'q', group: 'g', to: 'earliest' } } as never, 4)), { committed: 0, position: 0 });
  t.same(read(q, 'g', 4).map(text), ['m0', 'm1', 'm2', 'm3'], 'replay from the start');
});

t.test('retention trims the log by time, count and bytes; groups skip what is gone', async (t) => {
  const q = stream({ retentionMs: 60_000, maxLength: 3 });
  group(q, 'g', 'earliest');
  for (let i = 0; i < 5; i++) q.send(`m${i}`, i);
  t.match(q.actor.stats(5), { messages: 3, dropped: 2 }, 'count: the oldest are trimmed, not refused');
  t.same(read(q, 'g', 5).map(text), ['m2', 'm3', 'm4']);
  q.tick(60_003); // m2 (sent at 2) and m3 (at 3) are past their 60 s; m4 is not
  t.equal(q.actor.stats(60_003).messages, 1, 'time');
  const b = stream({ maxBytes: 4 });
  b.send('aa', 0);
  b.send('bb', 0);
  b.send('cc', 0);
  t.equal(b.actor.stats(0).bytes, 4, 'bytes');
});

t.test('bad use: groups on a queue-mode queue, receive without a group, unknown group, duplicate group, subscribe', async (t) => {
  const plain = actorHarness();
  t.match(plain.call({ op: 'createGroup', args: { queue: 'q', group: 'g' } } as never, 0), { error: { code: 'InvalidField', field: 'group' } });
  const q = stream();
  t.match(q.call({ op: 'receive', args: { queue: 'q' } }, 0), { error: { code: 'MissingField', field: 'group' } });
  t.match(q.call({ op: 'receive', args: { queue: 'q', group: 'nope' } }, 0), { error: { code: 'GroupDoesNotExist', field: 'group' } });
  group(q, 'g', 'earliest');
  t.match(q.call({ op: 'createGroup', args: { queue: 'q', group: 'g' } } as never, 0), { error: { code: 'GroupAlreadyExists', field: 'group' } });
  t.match(q.call({ op: 'subscribe', session: 1, sub: 1, args: { queue: 'q', credit: 1 } } as never, 0), { error: { code: 'MissingField', field: 'group' } });
  t.match(q.call({ op: 'subscribe', session: 1, sub: 1, args: { queue: 'q', credit: 1, group: 'nope' } } as never, 0), { error: { code: 'GroupDoesNotExist', field: 'group' } });
  t.match(plain.call({ op: 'subscribe', session: 1, sub: 1, args: { queue: 'q', credit: 1, group: 'g' } } as never, 0), { error: { code: 'InvalidField', field: 'group' } });
  t.match(q.call({ op: 'setQueueAttributes', args: { queue: 'q', attributes: { mode: 'queue' } } }, 0), { error: { code: 'InvalidAttribute', field: 'attributes.mode' } });
  q.ok(q.call({ op: 'deleteGroup', args: { queue: 'q', group: 'g' } } as never, 0));
  t.match(q.call({ op: 'receive', args: { queue: 'q', group: 'g' } }, 0), { error: { code: 'GroupDoesNotExist' } });
});

t.test('a long poll on a group is answered when a message arrives', async (t) => {
  const q = stream();
  group(q, 'g', 'latest');
  q.actor.handle({ op: 'receive', ref: 900, session: 1, args: { queue: 'q', group: 'g', waitMs: 1000 } }, 0);
  q.actor.endTurn(0);
  t.notOk(q.out.answers.has(900));
  q.send('hello', 10);
  t.match(q.out.answers.get(900), { result: { messages: [{ seq: 0 }] } });
});

t.test('push subscriptions per group: within credit, every group gets every message, a closed socket gives its leases back', async (t) => {
  const q = stream({ visibilityMs: 10_000 });
  group(q, 'a', 'latest');
  group(q, 'b', 'latest');
  q.ok(q.call({ op: 'subscribe', session: 7, sub: 1, args: { queue: 'q', credit: 3, group: 'a' } } as never, 0));
  q.ok(q.call({ op: 'subscribe', session: 8, sub: 1, args: { queue: 'q', credit: 100, group: 'b' } } as never, 0));
  for (let i = 0; i < 5; i++) q.send(`m${i}`, 1);
  const pushed = (session: number): string[] => q.out.pushes.filter((p) => p.session === session).flatMap((p) => p.messages.map(text));
  t.same(pushed(7), ['m0', 'm1', 'm2'], 'group a: exactly its credit');
  t.same(pushed(8), ['m0', 'm1', 'm2', 'm3', 'm4'], 'group b: everything, independently');
  q.actor.closeSession(7, 2);
  q.actor.endTurn(2);
  t.same(read(q, 'a', 3).map(text), ['m0', 'm1', 'm2', 'm3', 'm4'], 'the closed subscriber\'s leases come back first');
});
