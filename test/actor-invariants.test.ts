// Randomised check of the actor's bookkeeping across every transition of issue 3 (delay, ttl,
// leases, nack, reject, maxReceives, overflow, strict groups, ordering window, restarts): the
// state counts always add up to the messages held, bytes match, nothing goes negative, and the
// store holds exactly the live messages.
import t from 'tap';
import { prng } from './helpers/prng.js';
import { actorHarness, carryForwards, type Harness } from './helpers/actor.js';
import type { DeliveredMessage, QueueAttributes } from '../src/protocol/ops.js';


const configs: Array<Partial<QueueAttributes>> = [
  {},
  { ordering: 'strict' },
  { deadLetter: { queue: 'dlq', maxReceives: 2 }, maxLength: 20, overflow: 'dropHead' },
  { deadLetter: { queue: 'dlq', maxReceives: 3 }, maxBytes: 40, overflow: 'deadLetterNew', ordering: 'strict' },
  { orderingWindowMs: 50, maxLength: 30, overflow: 'reject' },
  { retentionMs: 60_000, dedupWindowMs: 1000, contentDedup: true },
];

/**
 * Runs with a body cache and group ids on most sends (message objects), and without a cache and
 * mostly plain sends (the compact backlog, backlog.ts) for the relaxed configurations.
 */
const runs = [
  ...configs.map((attrs) => ({ attrs, plain: false })),
  ...configs.filter((a) => a.ordering !== 'strict').map((attrs) => ({ attrs, plain: true })),
];

for (const [ci, { attrs, plain }] of runs.entries()) {
  t.test(`bookkeeping holds under random operations: ${JSON.stringify(attrs)}${plain ? ', plain sends, no body cache' : ''}`, async (t) => {
    const rnd = prng(1000 + ci);
    const dlq = actorHarness({}, { name: 'dlq' });
    const q: Harness = actorHarness({ visibilityMs: 30, ...attrs }, plain ? { cacheBytes: 0 } : {});
    let now = 0;
    let held: DeliveredMessage[] = [];
    let violations = 0;
    const check = (step: number): void => {
      const s = q.actor.stats(now);
      const sum = s.visible + s.leased + s.delayed + s.held;
      const stored = [...q.store.messages.values()].reduce((n, m) => n + m.body.byteLength, 0);
      if (sum !== s.messages || s.messages !== q.store.messages.size || s.bytes !== stored || Math.min(s.visible, s.leased, s.delayed, s.held, s.bytes) < 0) {
        violations++;
        if (violations < 3) t.fail(`step ${step}: ${JSON.stringify(s)} store=${q.store.messages.size}/${stored}`);
      }
    };
    for (let step = 0; step < 3000; step++) {
      const r = rnd();
      now += Math.floor(rnd() * 20);
      if (r < 0.35) {
        const extra: Record<string, unknown> = {};
        if (!plain || rnd() < 0.1) extra.groupId = `g${Math.floor(rnd() * 5)}`;
        if (rnd() < (plain ? 0.05 : 0.2)) extra.delayMs = Math.floor(rnd() * 100);
        if (rnd() < (plain ? 0.05 : 0.2)) extra.ttlMs = 1 + Math.floor(rnd() * 200);
        if (rnd() < (plain ? 0.05 : 0.5)) extra.timestamp = now - Math.floor(rnd() * 80);
        q.call({ op: 'send', args: { queue: 'q', body: Buffer.from(`m${step % 7}`), ...extra } }, now);
      } else if (r < 0.55) {
        held.push(...q.receive(now, { max: 1 + Math.floor(rnd() * 5) }));
      } else if (r < 0.7 && held.length > 0) {
        q.del(held.shift()!.receipt, now);
      } else if (r < 0.78 && held.length > 0) {
        q.call({ op: 'nack', args: { queue: 'q', receipt: held.shift()!.receipt, ...(rnd() < 0.5 ? { delayMs: 10 } : {}) } }, now);
      } else if (r < 0.82 && held.length > 0) {
        q.call({ op: 'nack', args: { queue: 'q', receipt: held.shift()!.receipt, requeue: false } }, now);
      } else if (r < 0.86 && held.length > 0) {
        q.call({ op: 'changeVisibility', args: { queue: 'q', receipt: held.shift()!.receipt, visibilityMs: Math.floor(rnd() * 2) * 40 } }, now);
      } else if (r < 0.97) {
        q.tick(now);
      } else if (r < 0.985) {
        q.restart(now);
        held = [];
      } else {
        carryForwards(q, [dlq], now);
      }
      check(step);
    }
    t.equal(violations, 0, 'no bookkeeping violation in 3000 steps');
    // Drain: everything still in the queue can be delivered and deleted, or expires.
    for (let i = 0; i < 2000 && q.actor.stats(now).messages > 0; i++) {
      now += 100;
      q.tick(now);
      for (const m of q.receive(now, { max: 100 })) q.del(m.receipt, now);
    }
    t.equal(q.actor.stats(now).messages, 0, 'drains to empty');
    check(-1);
    t.equal(violations, 0);
  });
}
