// Lease ends of acked deliveries do not pile up (queue-actor.ts #lease, heap.ts retain): an entry
// whose messages were all acked would otherwise stay in the actor's lease-end heap for the whole
// visibility timeout. Past twice the leased messages the stale entries are dropped; what is still
// leased keeps its lease end: it ends, and the message comes back, exactly when it would have.
import t from 'tap';
import { BinaryHeap } from '../src/actors/heap.js';
import { actorHarness } from './helpers/actor.js';
import { prng } from './helpers/prng.js';

t.test('BinaryHeap.retain keeps the accepted items, still popped in order', async (t) => {
  const next = prng(7);
  const heap = new BinaryHeap<number>((a, b) => a < b);
  const all: number[] = [];
  for (let i = 0; i < 500; i++) {
    const v = Math.floor(next() * 10_000);
    all.push(v);
    heap.push(v);
  }
  heap.retain((v) => v % 3 === 0);
  const kept = all.filter((v) => v % 3 === 0).sort((a, b) => a - b);
  t.equal(heap.size, kept.length);
  const popped: number[] = [];
  for (let v = heap.pop(); v !== undefined; v = heap.pop()) popped.push(v);
  t.same(popped, kept, 'every kept item, in heap order');
  heap.retain(() => true);
  t.equal(heap.size, 0, 'retain on an empty heap');
});

t.test('leases still end on time when many acked deliveries went before and after them', async (t) => {
  const h = actorHarness({ visibilityMs: 30_000 });
  // One message leased at time 5 and never acked, among hundreds received one by one and acked at once.
  h.send('kept', 0);
  const [kept] = h.receive(5, { max: 1 });
  t.ok(kept !== undefined);
  let acked = 0;
  for (let i = 0; i < 600; i++) {
    const now = 10 + i;
    h.send(`m${i}`, now);
    const [m] = h.receive(now, { max: 1 });
    if ('result' in h.del(m!.receipt, now)) acked++;
  }
  t.equal(acked, 600, 'every other delivery was acked');
  t.equal(h.actor.nextDeadline(), 30_005, 'the next deadline is the kept lease end');
  h.tick(30_004);
  t.same(h.receive(30_004), [], 'not before its lease ends');
  h.tick(30_005);
  const [again] = h.receive(30_005);
  t.equal(again?.receiveCount, 2, 'its lease ended at 30,005 and it was delivered again');
  t.match(h.actor.stats(30_005), { visible: 0, leased: 1 });
});

t.test('several deliveries still leased keep their own lease ends through the pruning', async (t) => {
  const h = actorHarness({ visibilityMs: 1_000 });
  const held: number[] = [];
  for (let i = 0; i < 400; i++) {
    h.send(`m${i}`, i);
    const [m] = h.receive(i, { max: 1 });
    if (i % 100 === 50) held.push(i); // leased at i, ends at i + 1,000
    else h.del(m!.receipt, i);
  }
  for (const at of held) {
    h.tick(at + 999);
    t.equal(h.actor.stats(at + 999).leased, held.length - held.indexOf(at), `before ${at + 1_000}: still leased`);
    h.tick(at + 1_000);
    t.equal(h.actor.stats(at + 1_000).visible, held.indexOf(at) + 1, `at ${at + 1_000}: back`);
  }
});
