// A push subscription's leases (held-leases.ts): kept as its deliveries and a count; when its
// socket closes every lease it still holds ends (acked, expired and re-leased ones excepted),
// and the deliveries it keeps stay bounded however long it runs.
import t from 'tap';
import { HeldLeases } from '../src/actors/held-leases.js';
import { actorHarness, text } from './helpers/actor.js';

t.test('HeldLeases: counts what is held, drops deliveries that hold nothing once they dominate', async (t) => {
  const leases = new HeldLeases();
  const held = new Set<number>();
  let seq = 0;
  for (let push = 0; push < 2000; push++) {
    const seqs = Array.from({ length: 10 }, () => seq++);
    for (const s of seqs) held.add(s);
    leases.added(seqs, (s) => held.has(s));
    // The consumer acks all but the first of each push.
    for (const s of seqs.slice(1)) {
      held.delete(s);
      leases.ended();
    }
  }
  t.equal(leases.held, 2000, 'one lease per push is still held');
  const candidates = [...leases.candidates()];
  t.ok(candidates.length <= 2 * 2000 + 1024 + 10, `the deliveries kept stay bounded (${candidates.length} sequences for 2000 leases)`);
  t.same(candidates.filter((s) => held.has(s)).length, 2000, 'every held lease is among them');
  leases.clear();
  t.same([leases.held, [...leases.candidates()].length], [0, 0]);
});

t.test('a subscription that pushed, was acked in part and closed: exactly its unacked messages are visible again', async (t) => {
  const q = actorHarness();
  for (let i = 0; i < 5000; i++) q.send(`m${i}`, 0);
  q.ok(q.call({ op: 'subscribe', session: 7, sub: 1, args: { queue: 'q', credit: 5000 } }, 0));
  const pushed = q.out.pushes.flatMap((p) => p.messages);
  t.equal(pushed.length, 5000);
  const acked = pushed.filter((_, i) => i % 4 !== 0);
  for (let i = 0; i < acked.length; i += 500) q.ok(q.call({ op: 'deleteBatch', args: { queue: 'q', receipts: acked.slice(i, i + 500).map((m) => m.receipt) } }, 1));
  t.match(q.actor.stats(1), { messages: 1250, leased: 1250 });
  q.actor.closeSession(7, 2);
  q.actor.endTurn(2);
  t.match(q.actor.stats(2), { messages: 1250, leased: 0, visible: 1250 }, 'its leases ended with its socket');
  const again = q.receive(3, { max: 2000 });
  t.same(again.map(text).sort(), pushed.filter((_, i) => i % 4 === 0).map(text).sort(), 'the unacked ones, each once');
  t.ok(again.every((m) => m.receiveCount === 2), 'their first delivery counted');
});
