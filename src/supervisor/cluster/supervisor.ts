/**
 * The cluster supervisor: the one node (elected through etcd, coordinator.ts) that decides
 * placement and failover, and writes its decisions to etcd; every node then acts on them through
 * its watch.
 *
 * - Placement: a new queue gets `min(3, live nodes)` replicas, the least-loaded live nodes; the
 *   least-loaded of them leads. Epoch 1.
 * - Failover: a queue whose leader is not a live member, or is cut off from its peers while its
 *   lease lives (reachability.ts), gets a new leader: the replica with the
 *   longest log (highest replication mark: epoch, then sequence) among those that answer, and the
 *   epoch grows by one. It needs answers from enough replicas that every quorum of the old epoch
 *   meets one of them (R − Q + 1 of the R replicas), so an acknowledged write is never skipped;
 *   with fewer the queue stays unavailable rather than lose data.
 * - Moves (migration.ts): moveQueue and drainNode from clients, and the drain and rebalance
 *   decisions of rebalancer.ts, taken every BALANCE_INTERVAL_MS from the loads the nodes report.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCodes, type WireError } from '../../protocol/errors.js';
import type { DrainStatus, OpArgs, QueuePlacement } from '../../protocol/ops.js';
import type { ReplicaMark } from '../../actors/replica-log.js';
import type { PeerAnswer } from '../../transport/peer-frames.js';
import type { Coordinator } from './coordinator.js';
import type { QueueLoad } from './load-meter.js';
import { holders, type QueueMeta } from './meta.js';
import { Mover } from './migration.js';
import type { PeerCall } from './peer-messages.js';
import { planDrain, planFor, Rebalancer, type ClusterView, type PlannedMove, type RebalanceSettings } from './rebalancer.js';

export interface SupervisorPorts {
  /**
   * Whether a live member may hold queues: false for a node cut off from its peers
   * (reachability.ts), which counts as dead for placement and failover.
   */
  usable(node: string): boolean;
  /** The replication mark of `qid` on `node` (undefined when it does not answer in time). */
  markOn(node: string, qid: string): Promise<ReplicaMark | undefined>;
  /** The loads `node` reports for the queues it leads (undefined when it does not answer). */
  loadOn(node: string): Promise<Record<string, QueueLoad> | undefined>;
  call(node: string, m: PeerCall, timeoutMs: number): Promise<PeerAnswer>;
}

/** What a supervisor op answers: a result or a wire error. */
export type AdminAnswer<T> = { result: T } | { error: WireError };

const BALANCE_INTERVAL_MS = 1000;
/** Moves run at once, at most (drains; the rebalancer runs one only when none runs). */
const MAX_MOVES = 2;

const DEFAULT_REPLICAS = 3;
const CHECK_INTERVAL_MS = 250;
/**
 * A leader that is cut off from its peers still holds its lease: it is failed over only after this
 * long, so that it has read the same verdict in etcd and stopped acknowledging before the replicas'
 * marks are read (an entry it committed later could otherwise be missing from the new leader).
 */
const CUT_OFF_GRACE_MS = 1000;

export class ClusterSupervisor {
  readonly #coord: Coordinator;
  readonly #ports: SupervisorPorts;
  readonly #log: Logger;
  readonly #failing = new Set<string>();
  readonly #timer: NodeJS.Timeout;
  /** When each dead leader was first seen dead (for the failover time in the log). */
  readonly #deadSince = new Map<string, number>();
  readonly #mover: Mover;
  readonly #rebalancer: Rebalancer;
  readonly #balanceTimer: NodeJS.Timeout;
  #balancing = false;
  #load = new Map<string, QueueLoad>();

  constructor(coord: Coordinator, ports: SupervisorPorts, log: Logger, rebalance: RebalanceSettings) {
    this.#coord = coord;
    this.#ports = ports;
    this.#log = log;
    this.#mover = new Mover({
      queue: (name) => coord.queues.get(name),
      update: (next) => coord.updateQueue(next),
      markOn: (node, qid) => ports.markOn(node, qid),
      call: (node, m, timeoutMs) => ports.call(node, m, timeoutMs),
    }, log);
    this.#rebalancer = new Rebalancer(rebalance);
    this.#timer = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.#timer.unref();
    this.#balanceTimer = setInterval(() => void this.#balance(), BALANCE_INTERVAL_MS);
    this.#balanceTimer.unref();
  }

  /** Placement of a new queue (not yet written); `pending`: records placed but not yet written, counted as load. */
  place(args: OpArgs<'createQueue'>, pending: readonly QueueMeta[] = []): QueueMeta {
    const all = [...this.#coord.nodes.keys()].filter((n) => this.#ports.usable(n)).sort();
    const undrained = all.filter((n) => !this.#coord.draining.has(n));
    const live = undrained.length > 0 ? undrained : all;
    const leads = new Map<string, number>(live.map((n) => [n, 0]));
    const holds = new Map<string, number>(live.map((n) => [n, 0]));
    for (const q of [...this.#coord.queues.values(), ...pending]) {
      if (leads.has(q.leader)) leads.set(q.leader, leads.get(q.leader)! + 1);
      for (const r of q.replicas) if (holds.has(r)) holds.set(r, holds.get(r)! + 1);
    }
    const byLoad = [...live].sort((a, b) => holds.get(a)! - holds.get(b)! || leads.get(a)! - leads.get(b)! || a.localeCompare(b));
    const replicas = byLoad.slice(0, Math.min(DEFAULT_REPLICAS, byLoad.length));
    const leader = [...replicas].sort((a, b) => leads.get(a)! - leads.get(b)! || a.localeCompare(b))[0]!;
    return {
      name: args.queue,
      id: randomBytes(8).toString('hex'),
      attributes: args.attributes ?? {},
      createdAt: Date.now(),
      replicas,
      leader,
      epoch: 1,
      acks: args.acks ?? 'quorum',
    };
  }

  /** Looks for queues whose leader died; runs from a timer and after membership changes. */
  check(): void {
    if (!this.#coord.isSupervisor || !this.#ports.usable(this.#coord.self.id)) return;
    for (const meta of this.#coord.queues.values()) {
      if (this.#alive(meta.leader)) {
        this.#deadSince.delete(meta.name);
        continue;
      }
      if (!this.#deadSince.has(meta.name)) this.#deadSince.set(meta.name, Date.now());
      if (this.#failing.has(meta.name)) continue;
      if (this.#coord.nodes.has(meta.leader) && Date.now() - this.#deadSince.get(meta.name)! < CUT_OFF_GRACE_MS) continue;
      this.#failing.add(meta.name);
      this.#failover(meta)
        .catch((err: unknown) => this.#log.error({ err, queue: meta.name }, 'failover attempt failed; retrying'))
        .finally(() => this.#failing.delete(meta.name));
    }
  }

  /** A live member that is not cut off from its peers. */
  #alive(node: string): boolean {
    return this.#coord.nodes.has(node) && this.#ports.usable(node);
  }

  async #failover(meta: QueueMeta): Promise<void> {
    const candidates = meta.replicas.filter((r) => r !== meta.leader && this.#alive(r));
    const marks = await Promise.all(candidates.map(async (node) => ({ node, mark: await this.#ports.markOn(node, meta.id) })));
    const answered = marks.filter((m): m is { node: string; mark: ReplicaMark } => m.mark !== undefined);
    const quorum = Math.floor(meta.replicas.length / 2) + 1;
    const needed = Math.max(1, meta.replicas.length - quorum + 1);
    if (answered.length < needed) {
      this.#log.warn({ queue: meta.name, answered: answered.map((a) => a.node), needed }, 'too few replicas answer to fail over safely; waiting');
      return;
    }
    answered.sort((a, b) => b.mark.epoch - a.mark.epoch || b.mark.seq - a.mark.seq || a.node.localeCompare(b.node));
    const best = answered[0]!;
    const next: QueueMeta = { ...meta, leader: best.node, epoch: meta.epoch + 1 };
    if (this.#coord.queues.get(meta.name) !== meta) return; // changed meanwhile; the next check decides again
    if (await this.#coord.updateQueue(next)) {
      const since = this.#deadSince.get(meta.name);
      this.#log.warn({
        queue: meta.name, from: meta.leader, to: best.node, epoch: next.epoch, mark: best.mark,
        deadForMs: since === undefined ? undefined : Date.now() - since,
      }, 'failover: promoted the replica with the longest log');
    }
  }

  // ── moves ──────────────────────────────────────────────────────────────────

  /** moveQueue: checks the request, then moves the queue and answers its new placement. */
  async moveQueue(args: OpArgs<'moveQueue'>): Promise<AdminAnswer<QueuePlacement>> {
    const meta = this.#coord.queues.get(args.queue);
    if (meta === undefined) return { error: { code: ErrorCodes.QueueDoesNotExist, message: `queue ${args.queue} does not exist`, field: 'queue' } };
    if (!this.#alive(args.to)) return { error: { code: ErrorCodes.NodeNotLive, message: `node ${args.to} is not a live member of the cluster (or is cut off from its peers)`, field: 'to' } };
    if (meta.leader === args.to) return { error: { code: ErrorCodes.MoveRefused, message: `node ${args.to} already leads queue ${meta.name}`, field: 'to' } };
    if (this.#coord.draining.has(args.to)) return { error: { code: ErrorCodes.MoveRefused, message: `node ${args.to} is being drained`, field: 'to' } };
    if (!this.#coord.nodes.has(meta.leader)) {
      return { error: { code: ErrorCodes.MoveFailed, message: `the leader of queue ${meta.name} is down; it fails over first`, retryable: true } };
    }
    try {
      // No cooldown for a move by hand: with --rebalance on, load may move the queue again.
      const moved = await this.#mover.move(meta.name, planFor(meta, args.to), 'moveQueue');
      return { result: { queue: moved.name, leader: moved.leader, epoch: moved.epoch, replicas: moved.replicas } };
    } catch (err) {
      return { error: { code: ErrorCodes.MoveFailed, message: (err as Error).message, retryable: true } };
    }
  }

  /** drainNode: marks the node draining (idempotent) and answers what still has a copy on it. */
  async drainNode(args: OpArgs<'drainNode'>): Promise<AdminAnswer<DrainStatus>> {
    if (!this.#coord.nodes.has(args.node)) return { error: { code: ErrorCodes.NodeNotLive, message: `node ${args.node} is not a live member of the cluster`, field: 'node' } };
    if (!this.#coord.draining.has(args.node)) {
      try {
        await this.#coord.setDraining(args.node);
      } catch (err) {
        return { error: { code: ErrorCodes.PeerUnavailable, message: `cannot reach etcd: ${(err as Error).message}`, retryable: true } };
      }
      this.#coord.draining.add(args.node); // the watch confirms; the drain starts now
      this.#log.info({ node: args.node }, 'draining a node');
      void this.#balance();
    }
    const queues = [...this.#coord.queues.values()].filter((q) => holders(q).includes(args.node)).map((q) => q.name).sort();
    return { result: { node: args.node, remaining: queues.length, queues: queues.slice(0, 100) } };
  }

  /** One round of drains and rebalancing (BALANCE_INTERVAL_MS). */
  async #balance(): Promise<void> {
    if (!this.#coord.isSupervisor || this.#balancing) return;
    this.#balancing = true;
    try {
      const live = [...this.#coord.nodes.keys()].sort();
      if (this.#rebalancer.settings.enabled) {
        const reports = await Promise.all(live.map((n) => this.#ports.loadOn(n)));
        const load = new Map<string, QueueLoad>();
        for (const r of reports) for (const [q, l] of Object.entries(r ?? {})) load.set(q, l);
        this.#load = load;
      }
      for (const node of [...this.#coord.draining]) {
        // A drained node that left: its mark goes, so the id may join again as a fresh node.
        if (!this.#coord.nodes.has(node) && ![...this.#coord.queues.values()].some((q) => holders(q).includes(node))) {
          await this.#coord.clearDraining(node).catch(() => undefined);
        }
      }
      // Bounded: a move that fails at once frees its slot in the same turn.
      for (let i = 0; i < MAX_MOVES && this.#mover.busy < MAX_MOVES; i++) {
        const next = planDrain(this.#view(live));
        if (next === undefined) break;
        this.#start(next);
      }
      if (this.#mover.busy === 0) {
        const next = this.#rebalancer.decide(this.#view(live), Date.now());
        if (next !== undefined) this.#start(next);
      }
    } catch (err) {
      this.#log.warn({ err }, 'balancing round failed');
    } finally {
      this.#balancing = false;
    }
  }

  #view(live: string[]): ClusterView {
    return {
      live, draining: this.#coord.draining, queues: [...this.#coord.queues.values()], load: this.#load,
      moving: new Set([...this.#coord.queues.keys()].filter((n) => this.#mover.isMoving(n))),
    };
  }

  #start(m: PlannedMove): void {
    this.#rebalancer.moved(m.queue, Date.now());
    this.#mover.move(m.queue, m.plan, m.why).catch((err: unknown) => this.#log.warn({ err, queue: m.queue, why: m.why }, 'move failed; the next round tries again'));
  }

  close(): void {
    clearInterval(this.#timer);
    clearInterval(this.#balanceTimer);
  }
}
