// The gone mark (queue-actor.ts #settleRemovals): acks that leave every message below some
// sequence gone stage one mark instead of a delete per message; any removal above a message still
// held (acked out of order, a delayed, leased or strict-group message below it) keeps its own
// delete. The in-memory store drops what the mark covers at once (as the shard store's recovery
// skips it), so a mark that passed a live message would lose it here, and a removal that neither
// the mark nor a delete covered would come back after restart().
import t from 'tap';
import { actorHarness, text, type Harness } from './helpers/actor.js';
import { prng } from './helpers/prng.js';
import type { DeliveredMessage, QueueAttributes } from '../src/protocol/ops.js';

function ackAll(h: Harness, msgs: readonly DeliveredMessage[], now: number): void {
  h.ok(h.call({ op: 'deleteBatch', args: { queue: h.name, receipts: msgs.map((m) => m.receipt) } }, now));
}

/** Every message the queue holds, as delivered by receives once everything is visible (leases long). */
function drainAll(h: Harness, now: number): string[] {
  h.tick(now);
  const got: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const msgs = h.receive(now, { max: 100, visibilityMs: 3_600_000 });
    if (msgs.length === 0) break;
    got.push(...msgs.map(text));
    ackAll(h, msgs, now);
  }
  return got;
}

t.test('acks in sequence order: one mark, no delete per message; nothing comes back after a restart', async (t) => {
  const h = actorHarness();
  for (let i = 0; i < 50; i++) h.send(`m${i}`, 1);
  const got = h.receive(2, { max: 50 });
  ackAll(h, got.slice(0, 20), 3);
  t.equal(h.store.messageDeletes, 0, 'no message deleted one by one');
  t.equal(h.store.goneBelow, got[19]!.seq + 1, 'the mark is past the last acked message');
  ackAll(h, got.slice(20, 30), 4);
  t.equal(h.store.goneBelow, got[29]!.seq + 1, 'and moves with the next acks');
  h.restart(5);
  t.match(h.actor.stats(5), { messages: 20 }, 'the 20 leased, unacked messages are back, and only they');
  t.same(drainAll(h, 6), got.slice(30).map(text));
  t.equal(h.store.messageDeletes, 0);
});

t.test('an ack above a message still leased is a delete of its own; the mark catches up later', async (t) => {
  const h = actorHarness();
  for (let i = 0; i < 5; i++) h.send(`m${i}`, 1);
  const got = h.receive(2, { max: 5 });
  ackAll(h, [got[2]!, got[3]!], 3);
  t.equal(h.store.messageDeletes, 2, 'm2 and m3: deleted one by one (m0 is still leased)');
  t.equal(h.store.goneBelow, 0, 'the mark does not pass m0');
  t.ok(h.store.messages.has(got[0]!.seq) && h.store.messages.has(got[1]!.seq), 'm0, m1 still stored');
  ackAll(h, [got[0]!], 4);
  t.equal(h.store.goneBelow, got[0]!.seq + 1, 'm0 acked: the mark passes it');
  t.equal(h.store.messageDeletes, 2, 'without a delete');
  ackAll(h, [got[1]!], 5);
  t.equal(h.store.goneBelow, got[3]!.seq + 1, 'm1 acked: the mark passes m1 and the deleted m2, m3');
  h.restart(6);
  t.same(drainAll(h, 7), ['m4']);
});

t.test('a delayed message below holds the mark; it survives a restart, the acked ones above it do not', async (t) => {
  const h = actorHarness();
  h.send('late', 0, { delayMs: 1000 });
  for (let i = 0; i < 3; i++) h.send(`m${i}`, 0);
  const got = h.receive(1, { max: 10 });
  t.same(got.map(text), ['m0', 'm1', 'm2']);
  ackAll(h, got, 2);
  t.equal(h.store.goneBelow, 0, 'the delayed message holds the mark');
  t.equal(h.store.messageDeletes, 3);
  h.restart(3);
  t.same(drainAll(h, 2000), ['late']);
  t.equal(h.store.goneBelow, 4, 'the delayed one acked: the mark passes everything');
});

t.test('strict FIFO groups: acks of one group pass the mark only up to the other group\'s head', async (t) => {
  const h = actorHarness({ ordering: 'strict' });
  h.send('a1', 0, { groupId: 'a' });
  h.send('b1', 0, { groupId: 'b' });
  h.send('a2', 0, { groupId: 'a' });
  const first = h.receive(1, { max: 10 });
  t.same(first.map(text).sort(), ['a1', 'b1'], 'one message of each group');
  ackAll(h, first.filter((m) => text(m) === 'a1'), 2);
  t.equal(h.store.goneBelow, 1, 'a1 gone; b1 still leased');
  const second = h.receive(3, { max: 10 });
  t.same(second.map(text), ['a2']);
  ackAll(h, second, 4);
  t.equal(h.store.messageDeletes, 1, 'a2, above the leased b1: its own delete');
  h.restart(5);
  t.same(drainAll(h, 6), ['b1']);
});

t.test('dead-lettering, expiry and purge move the mark too; delivery records go with it', async (t) => {
  const h = actorHarness({ retentionMs: 1000, deadLetter: { queue: 'dlq', maxReceives: 3 } });
  for (let i = 0; i < 4; i++) h.send(`m${i}`, 0);
  const got = h.receive(1, { max: 2 });
  t.equal(h.store.deliveries.size, 2, 'a queue with a dead-letter queue stores receive counts');
  ackAll(h, got, 2);
  t.equal(h.store.deliveries.size, 0, 'the acked messages\' receive counts are gone below the mark');
  h.tick(2000); // m2, m3 expire to the dead-letter queue
  t.equal(h.store.forwards.size, 2);
  t.equal(h.store.goneBelow, 4);
  t.equal(h.store.messageDeletes, 0);
  h.send('after', 2000);
  t.same(h.ok(h.call({ op: 'purgeQueue' }, 2001)), { purged: 1 });
  t.equal(h.store.goneBelow, 5, 'purge: everything below the high-water mark');
  h.restart(2002);
  t.same(drainAll(h, 2003), []);
});

t.test('stream mode keeps its messages until retention, deleted one by one', async (t) => {
  const h = actorHarness({ mode: 'stream', maxLength: 3 });
  h.ok(h.call({ op: 'createGroup', args: { queue: h.name, group: 'g', start: 'earliest' } }, 0));
  for (let i = 0; i < 5; i++) h.send(`m${i}`, 0);
  const got = h.receive(1, { group: 'g', max: 5 });
  ackAll(h, got, 2);
  t.equal(h.store.goneBelow, 0, 'no mark in stream mode');
  t.equal(h.store.messageDeletes, 2, 'the two trimmed by maxLength');
  t.same([...h.store.messages.keys()], [2, 3, 4], 'acked stream messages stay');
});

// Random traffic over the rule: sends (plain, delayed, with attributes or groups), receives,
// acks in and out of order, nacks, lease ends and restarts. After each restart the queue holds
// exactly the messages sent and not acknowledged.
for (const [label, attrs] of [['relaxed', {}], ['strict', { ordering: 'strict' }], ['with a dead-letter queue', { deadLetter: { queue: 'dlq', maxReceives: 1000 } }]] as Array<[string, Partial<QueueAttributes>]>) {
  t.test(`random traffic (${label}): after every restart exactly the unacknowledged messages are there`, async (t) => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = prng(seed);
      const h = actorHarness({ visibilityMs: 50, ...attrs });
      const live = new Set<string>();
      let leased: DeliveredMessage[] = [];
      let now = 0;
      let n = 0;
      let bad = 0;
      for (let step = 0; step < 600; step++) {
        now += Math.floor(rnd() * 10);
        const r = rnd();
        if (r < 0.35) {
          const body = `s${seed}-${n++}`;
          const extra: Record<string, unknown> = {};
          const kind = rnd();
          if (kind < 0.1) extra.delayMs = 1 + Math.floor(rnd() * 100);
          else if (kind < 0.2) extra.attributes = { k: { type: 'string', value: 'v' } };
          if (attrs.ordering === 'strict') extra.groupId = `g${Math.floor(rnd() * 3)}`;
          h.send(body, now, extra);
          live.add(body);
        } else if (r < 0.6) {
          leased.push(...h.receive(now, { max: 1 + Math.floor(rnd() * 8) }));
        } else if (r < 0.85 && leased.length > 0) {
          // Acks: mostly the oldest first (in order), sometimes a random one.
          const k = 1 + Math.floor(rnd() * Math.min(5, leased.length));
          const pick = rnd() < 0.7 ? leased.splice(0, k) : leased.splice(Math.floor(rnd() * leased.length), 1);
          const res = h.ok<{ results: Array<{ ok?: { deleted: boolean } }> }>(h.call({ op: 'deleteBatch', args: { queue: h.name, receipts: pick.map((m) => m.receipt) } }, now));
          pick.forEach((m, i) => {
            if (res.results[i]?.ok?.deleted === true) live.delete(text(m));
          });
        } else if (r < 0.9 && leased.length > 0) {
          const m = leased.splice(Math.floor(rnd() * leased.length), 1)[0]!;
          h.call({ op: 'nack', args: { queue: h.name, receipt: m.receipt, ...(rnd() < 0.5 ? { delayMs: 20 } : {}) } }, now);
        } else if (r < 0.97) {
          h.tick(now); // lease ends, delays
        } else {
          h.restart(now);
          leased = [];
          if (h.actor.stats(now).messages !== live.size) bad++;
        }
      }
      h.restart(now);
      leased = [];
      const left = drainAll(h, now + 10_000).sort();
      t.same(left, [...live].sort(), `seed ${seed}: the queue holds exactly the unacknowledged messages`);
      t.equal(bad, 0, `seed ${seed}: every restart on the way held the right count`);
    }
  });
}
