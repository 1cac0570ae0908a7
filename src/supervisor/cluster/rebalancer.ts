/**
 * Where the supervisor moves queues by itself (docs/cluster.md "Moving queues"): pure decisions
 * over a view of the cluster; the supervisor carries them out with the Mover (migration.ts).
 *
 * - Drain (`planDrain`): every queue with a copy on a draining node gets a new placement without
 *   it. The node's copy is replaced by one on a live, non-draining node that holds none (the one
 *   holding fewest copies); with no such node the replica set shrinks. A queue the draining node
 *   leads is handed to that new node, else to its least-loaded live follower.
 * - Isolation (`Rebalancer`): a node's load is the sum of the scores (load-meter.ts) of the queues it
 *   leads. A node is hot when its load is at least `minRate` AND at least `ratio` × the coolest
 *   node's, and it leads two or more queues. When it stays hot for `sustain` samples in a row
 *   (hysteresis), one of its queues moves: the one that leaves the two nodes most even, the lighter
 *   on a tie (so the hot queue keeps its producers and the others get a quiet node). It goes to a
 *   node where it makes the balance strictly better, a follower of the queue first (no copying).
 *   A moved queue stays put for `cooldownMs`.
 * - Join (`Rebalancer`, with no hot node): when a node holds at least two copies fewer than another
 *   (a node that just joined holds none), a queue with a copy on the fullest node and none on the
 *   emptiest moves that copy over (leadership too, if the fullest node led it; such queues first,
 *   then the lightest). One
 *   move per round, until the counts differ by less than two.
 */
import type { HandoverPlan } from './handover.js';
import { loadScore, type QueueLoad } from './load-meter.js';
import type { QueueMeta } from './meta.js';

export interface ClusterView {
  /** Live nodes. */
  live: readonly string[];
  draining: ReadonlySet<string>;
  queues: readonly QueueMeta[];
  /** Per queue name, as reported by its leader. */
  load: ReadonlyMap<string, QueueLoad>;
  /** Queues with a move running (left alone). */
  moving: ReadonlySet<string>;
}

export interface PlannedMove {
  queue: string;
  plan: HandoverPlan;
  why: string;
}

export interface RebalanceSettings {
  enabled: boolean;
  /** Load score per second below which no node counts as hot. */
  minRate: number;
  ratio: number;
  sustain: number;
  cooldownMs: number;
}

export const DEFAULT_REBALANCE: Readonly<RebalanceSettings> = Object.freeze({
  enabled: true, minRate: 1000, ratio: 2, sustain: 3, cooldownMs: 30_000,
});

function replace(list: readonly string[], out: string, by: string | undefined): string[] {
  return list.flatMap((n) => (n !== out ? [n] : by === undefined ? [] : [by]));
}

function leadScores(view: ClusterView, nodes: readonly string[]): Map<string, number> {
  const scores = new Map(nodes.map((n) => [n, 0]));
  for (const q of view.queues) if (scores.has(q.leader)) scores.set(q.leader, scores.get(q.leader)! + loadScore(view.load.get(q.name)));
  return scores;
}

/** The next move a drain needs, if any (one queue at a time per call). */
export function planDrain(view: ClusterView): PlannedMove | undefined {
  const usable = view.live.filter((n) => !view.draining.has(n));
  const copies = new Map(usable.map((n) => [n, 0]));
  for (const q of view.queues) for (const r of q.replicas) if (copies.has(r)) copies.set(r, copies.get(r)! + 1);
  const scores = leadScores(view, usable);
  for (const node of [...view.draining].sort()) {
    for (const q of view.queues) {
      if (!q.replicas.includes(node) || view.moving.has(q.name) || (q.learners?.length ?? 0) > 0) continue;
      if (!view.live.includes(q.leader)) continue; // failover first
      const spare = usable.filter((n) => !q.replicas.includes(n))
        .sort((a, b) => copies.get(a)! - copies.get(b)! || scores.get(a)! - scores.get(b)! || a.localeCompare(b))[0];
      const replicas = replace(q.replicas, node, spare);
      if (replicas.length === 0) continue;
      let leader = q.leader;
      if (leader === node) {
        const follower = q.replicas.filter((n) => n !== node && usable.includes(n)).sort((a, b) => scores.get(a)! - scores.get(b)! || a.localeCompare(b))[0];
        const next = spare ?? follower;
        if (next === undefined) continue;
        leader = next;
      }
      return { queue: q.name, plan: { leader, replicas }, why: `drain of node ${node}` };
    }
  }
  return undefined;
}

export class Rebalancer {
  readonly settings: RebalanceSettings;
  #streak = 0;
  readonly #movedAt = new Map<string, number>();

  constructor(settings: RebalanceSettings) {
    this.settings = settings;
  }

  /** Records a move (for the cooldown). */
  moved(queue: string, now: number): void {
    this.#movedAt.set(queue, now);
  }

  decide(view: ClusterView, now: number): PlannedMove | undefined {
    if (!this.settings.enabled) return undefined;
    const nodes = view.live.filter((n) => !view.draining.has(n)).sort();
    if (nodes.length < 2) return undefined;
    const scores = leadScores(view, nodes);
    const led = (n: string): QueueMeta[] => view.queues.filter((q) => q.leader === n);
    const movable = (q: QueueMeta): boolean => !view.moving.has(q.name) && (q.learners?.length ?? 0) === 0
      && now - (this.#movedAt.get(q.name) ?? -Infinity) >= this.settings.cooldownMs;
    const byScore = [...nodes].sort((a, b) => scores.get(b)! - scores.get(a)! || a.localeCompare(b));
    const hot = byScore[0]!;
    const cool = byScore[byScore.length - 1]!;
    const hotScore = scores.get(hot)!;
    if (hotScore >= this.settings.minRate && hotScore >= this.settings.ratio * scores.get(cool)! && led(hot).length >= 2) {
      if (++this.#streak < this.settings.sustain) return undefined;
      const s = (q: QueueMeta): number => loadScore(view.load.get(q.name));
      const candidates = led(hot).filter(movable)
        .sort((a, b) => Math.max(hotScore - s(a), scores.get(cool)! + s(a)) - Math.max(hotScore - s(b), scores.get(cool)! + s(b)) || s(a) - s(b));
      for (const q of candidates) {
        const target = nodes.filter((n) => n !== hot && scores.get(n)! + s(q) < hotScore - s(q))
          .sort((a, b) => Number(q.replicas.includes(b)) - Number(q.replicas.includes(a)) || scores.get(a)! - scores.get(b)! || a.localeCompare(b))[0];
        if (target === undefined) continue;
        this.#streak = 0;
        return { queue: q.name, plan: planFor(q, target), why: `isolation: node ${hot} is hot (${Math.round(hotScore)}/s) and ${target} is not` };
      }
      return undefined;
    }
    this.#streak = 0;
    return this.#spread(view, nodes, scores, movable);
  }

  /** Join: copies flow from the node holding most to the one holding fewest (see the top comment). */
  #spread(view: ClusterView, nodes: string[], scores: Map<string, number>, movable: (q: QueueMeta) => boolean): PlannedMove | undefined {
    const copies = new Map(nodes.map((n) => [n, 0]));
    for (const q of view.queues) for (const r of q.replicas) if (copies.has(r)) copies.set(r, copies.get(r)! + 1);
    const most = [...nodes].sort((a, b) => copies.get(b)! - copies.get(a)! || a.localeCompare(b))[0]!;
    const fewest = [...nodes].sort((a, b) => copies.get(a)! - copies.get(b)! || a.localeCompare(b))[0]!;
    if (copies.get(most)! - copies.get(fewest)! < 2) return undefined;
    const s = (q: QueueMeta): number => loadScore(view.load.get(q.name));
    const q = view.queues.filter((q) => q.replicas.includes(most) && !q.replicas.includes(fewest) && movable(q) && view.live.includes(q.leader))
      // A queue `most` leads moves its leadership too: only when that leaves `fewest` the cooler of the two.
      .filter((q) => q.leader !== most || s(q) === 0 || scores.get(fewest)! + s(q) <= scores.get(most)! - s(q))
      // Queues `most` leads first: the new node should lead some, not only follow.
      .sort((a, b) => Number(b.leader === most) - Number(a.leader === most) || s(a) - s(b) || a.name.localeCompare(b.name))[0];
    if (q === undefined) return undefined;
    return {
      queue: q.name,
      plan: { leader: q.leader === most ? fewest : q.leader, replicas: replace(q.replicas, most, fewest) },
      why: `spread: node ${most} holds ${copies.get(most)} copies, ${fewest} holds ${copies.get(fewest)}`,
    };
  }
}

/** Leadership to `target`: a follower takes over; a node without a copy replaces the leader in the set. */
export function planFor(q: QueueMeta, target: string): HandoverPlan {
  return { leader: target, replicas: q.replicas.includes(target) ? [...q.replicas] : replace(q.replicas, q.leader, target) };
}
