// The layout of partitioned queues (src/supervisor/cluster/layout.ts) and the autoscaler's
// decision (autoscaler.ts): jump hash properties, chains, and a randomised model of the strict
// rule — front ends and partition leaders that learn layout changes late, sends that walk their
// group's chain step by step, consumers, and the autoscaler's grow/shrink/drop/settle with their
// fenced checks — asserting after every step that a group is held by at most one partition, that
// every group is consumed in acceptance order, and that a dropped partition is empty.
import t from 'tap';
import { allAtHome, chain, dropLast, grow, hashKey, home, initialLayout, jump, settle, shrink, type Layout } from '../src/supervisor/cluster/layout.js';
import { decide, LOW_TICKS } from '../src/supervisor/cluster/autoscaler.js';
import { DEFAULT_PARTITIONING } from '../src/protocol/partitioning.js';
import { prng } from './helpers/prng.js';

t.test('jump hash: in range, stable, and growing moves keys only to the new bucket', async (t) => {
  const keys = Array.from({ length: 2000 }, (_, i) => hashKey(`group-${i}`));
  for (let n = 1; n <= 8; n++) {
    const counts = new Array<number>(n).fill(0);
    for (const k of keys) {
      const b = jump(k, n);
      counts[b]!++;
      if (n > 1) {
        const before = jump(k, n - 1);
        if (b !== before && b !== n - 1) t.fail(`key moved from ${before} to ${b} when growing to ${n}`);
      }
    }
    t.ok(counts.every((c) => c > (2000 / n) * 0.7 && c < (2000 / n) * 1.3), `${n} buckets share the keys evenly: ${counts.join(' ')}`);
  }
  t.equal(jump(hashKey('x'), 5), jump(hashKey('x'), 5), 'the same key, the same bucket');
});

t.test('chain: distinct partitions, the current home last, deleted partitions skipped', async (t) => {
  let l = initialLayout(1);
  l = grow(l);
  l = grow(l);
  for (let i = 0; i < 200; i++) {
    const c = chain(l, `g${i}`);
    t.equal(c[c.length - 1], home(l, `g${i}`), 'home last');
    t.equal(new Set(c).size, c.length, 'no partition twice');
  }
  const shrunk = dropLast(shrink(l));
  for (let i = 0; i < 200; i++) t.ok(chain(shrunk, `g${i}`).every((p) => p < shrunk.total), 'only existing partitions');
  t.same(settle(shrunk).history, [shrunk.active], 'settle keeps the current generation only');
  t.ok(allAtHome(l, home(l, 'a'), ['a']) && !allAtHome(l, (home(l, 'a') + 1) % 3, ['a']), 'allAtHome');
});

t.test('the autoscaler decides one step from the loads', async (t) => {
  const p = { ...DEFAULT_PARTITIONING, autoscale: true, limit: 100, maxPartitions: 3 };
  const l1 = initialLayout(1);
  t.equal(decide(l1, p, [{ messages: 81, ratePerSec: 0 }], 0).step, 'grow', 'above 80% of the backlog limit');
  t.equal(decide(l1, p, [{ messages: 80, ratePerSec: 0 }], 0).step, 'none', 'at 80% exactly: nothing');
  t.equal(decide(l1, { ...p, limitBy: 'rate' }, [{ messages: 500, ratePerSec: 90 }], 0).step, 'grow', 'rate limit');
  const l3 = grow(grow(l1));
  t.equal(decide(l3, p, [{ messages: 500, ratePerSec: 0 }, { messages: 0, ratePerSec: 0 }, { messages: 0, ratePerSec: 0 }], 0).step, 'none', 'never above maxPartitions');
  const idle = [{ messages: 1, ratePerSec: 0 }, { messages: 0, ratePerSec: 0 }, { messages: 0, ratePerSec: 0 }];
  t.equal(decide(l3, p, idle, LOW_TICKS - 2).step, 'none', 'a short lull does not shrink');
  t.equal(decide(l3, p, idle, LOW_TICKS - 1).step, 'shrink', 'a lasting one does');
  const retiring = shrink(l3);
  t.equal(decide(retiring, p, [...idle.slice(0, 2), { messages: 3, ratePerSec: 0 }], 0).step, 'none', 'a retiring partition with messages stays');
  t.equal(decide(retiring, p, idle, 0).step, 'drop', 'an empty retiring partition is dropped');
  t.equal(decide(initialLayout(1), { ...p, minPartitions: 2 }, [{ messages: 0, ratePerSec: 0 }], 0).step, 'grow', 'below minPartitions');
});

interface Send {
  g: string;
  fe: number;
  gen: number;
  chain: number[];
  pos: number;
}

t.test('model: the strict rule holds under lagging views and every autoscale step', async (t) => {
  const GROUPS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  let violations = 0;
  let accepted = 0;
  let moves = 0;
  for (let seed = 1; seed <= 100; seed++) {
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const layouts: Layout[] = [];
    let layout = initialLayout(1);
    layouts[layout.gen] = layout;
    /** Each partition: its leader's generation and its messages (group, acceptance number). */
    let parts: Array<{ gen: number; msgs: Array<{ g: string; n: number }> }> = [{ gen: 1, msgs: [] }];
    const feGen = [1, 1, 1];
    const inflight: Send[] = [];
    const acceptedN = new Map<string, number>();
    const consumedN = new Map<string, number>();
    const lastHolder = new Map<string, number>();
    let pendingDrop: number | undefined;
    let pendingSettle: number | undefined;
    const fail = (why: string): void => {
      violations++;
      t.fail(`seed ${seed}: ${why}`);
    };
    const route = (s: Send): void => {
      s.gen = feGen[s.fe]!;
      s.chain = chain(layouts[s.gen]!, s.g);
      s.pos = 0;
    };
    const commit = (next: Layout): void => {
      layout = next;
      layouts[next.gen] = next;
      while (parts.length < next.total) parts.push({ gen: next.gen, msgs: [] });
    };
    for (let step = 0; step < 3000; step++) {
      const r = rnd();
      if (r < 0.15 && inflight.length < 6) {
        const s: Send = { g: pick(GROUPS), fe: Math.floor(rnd() * 3), gen: 0, chain: [], pos: 0 };
        route(s);
        inflight.push(s);
      } else if (r < 0.5 && inflight.length > 0) {
        // One step of one send at one partition (the partition's leader checks the fence).
        const i = Math.floor(rnd() * inflight.length);
        const s = inflight[i]!;
        const p = s.chain[s.pos]!;
        const last = s.pos === s.chain.length - 1;
        const part = p < layout.total ? parts[p] : undefined;
        if (part === undefined) {
          if (last) route(s);
          else s.pos++;
          continue;
        }
        if (part.gen !== s.gen) {
          route(s); // refused: routed again by the front end's (maybe newer) view
          continue;
        }
        if (!last && !part.msgs.some((m) => m.g === s.g)) {
          s.pos++;
          continue;
        }
        const n = acceptedN.get(s.g) ?? 0;
        acceptedN.set(s.g, n + 1);
        part.msgs.push({ g: s.g, n });
        accepted++;
        if (lastHolder.get(s.g) !== undefined && lastHolder.get(s.g) !== p) moves++;
        lastHolder.set(s.g, p);
        inflight.splice(i, 1);
      } else if (r < 0.65) {
        // A consumer: receive and delete the head of one group in one partition.
        const p = Math.floor(rnd() * parts.length);
        const part = parts[p];
        if (part === undefined || part.msgs.length === 0) continue;
        const g = pick(part.msgs).g;
        const k = part.msgs.findIndex((m) => m.g === g);
        const m = part.msgs.splice(k, 1)[0]!;
        const expected = consumedN.get(g) ?? 0;
        if (m.n !== expected) fail(`group ${g} consumed ${m.n} before ${expected}`);
        consumedN.set(g, expected + 1);
      } else if (r < 0.9) {
        // Views catch up, each on its own.
        if (rnd() < 0.5) feGen[Math.floor(rnd() * 3)] = layout.gen;
        else {
          const part = parts[Math.floor(rnd() * layout.total)];
          if (part !== undefined) part.gen = layout.gen;
        }
      } else if (r < 0.915) {
        if (layout.active < 4) commit(grow(layout));
      } else if (r < 0.93) {
        if (layout.active > 1) commit(shrink(layout));
      } else if (r < 0.95) {
        // The drop check: a fenced load call to the highest retiring partition.
        const last = layout.total - 1;
        if (layout.total > layout.active && parts[last]!.gen === layout.gen && parts[last]!.msgs.length === 0) pendingDrop = layout.gen;
      } else if (r < 0.96) {
        if (pendingDrop === layout.gen) {
          commit(dropLast(layout));
          const gone = parts.pop()!;
          // Deleted after the commit: anything that reached it meanwhile would be lost.
          parts = parts.slice(0, layout.total);
          if (gone.msgs.length > 0) fail('a dropped partition held messages');
        }
        pendingDrop = undefined;
      } else if (r < 0.98) {
        // The settle check: fenced heldGroups calls to every partition.
        const ok = parts.slice(0, layout.total).every((part, p) => part.gen === layout.gen && allAtHome(layout, p, [...new Set(part.msgs.map((m) => m.g))]));
        if (ok && layout.history.length > 1) pendingSettle = layout.gen;
      } else {
        if (pendingSettle === layout.gen) commit(settle(layout));
        pendingSettle = undefined;
      }
      for (const g of GROUPS) {
        const holders = parts.filter((part) => part.msgs.some((m) => m.g === g)).length;
        if (holders > 1) fail(`group ${g} held by ${holders} partitions at step ${step}`);
      }
      if (violations > 3) return;
    }
  }
  t.equal(violations, 0, 'no violation in 100 runs of 3000 steps');
  t.ok(accepted > 20_000 && moves > 500, `the runs exercised the rule (${accepted} sends, ${moves} group moves)`);
});
