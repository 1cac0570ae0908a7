/**
 * The cluster supervisor: the one node (elected through etcd, coordinator.ts) that decides
 * placement and failover, and writes its decisions to etcd; every node then acts on them through
 * its watch.
 *
 * - Placement: a new queue gets `min(3, live nodes)` replicas, the least-loaded live nodes; the
 *   least-loaded of them leads. Epoch 1.
 * - Failover: a queue whose leader is not a live member gets a new leader: the replica with the
 *   longest log (highest replication mark: epoch, then sequence) among those that answer, and the
 *   epoch grows by one. It needs answers from enough replicas that every quorum of the old epoch
 *   meets one of them (R − Q + 1 of the R replicas), so an acknowledged write is never skipped;
 *   with fewer the queue stays unavailable rather than lose data.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { OpArgs } from '../../protocol/ops.js';
import type { ReplicaMark } from '../../actors/replica-log.js';
import type { Coordinator } from './coordinator.js';
import type { QueueMeta } from './meta.js';

export interface SupervisorPorts {
  /** The replication mark of `qid` on `node` (undefined when it does not answer in time). */
  markOn(node: string, qid: string): Promise<ReplicaMark | undefined>;
}

const DEFAULT_REPLICAS = 3;
const CHECK_INTERVAL_MS = 250;

export class ClusterSupervisor {
  readonly #coord: Coordinator;
  readonly #ports: SupervisorPorts;
  readonly #log: Logger;
  readonly #failing = new Set<string>();
  readonly #timer: NodeJS.Timeout;
  /** When each dead leader was first seen dead (for the failover time in the log). */
  readonly #deadSince = new Map<string, number>();

  constructor(coord: Coordinator, ports: SupervisorPorts, log: Logger) {
    this.#coord = coord;
    this.#ports = ports;
    this.#log = log;
    this.#timer = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Placement of a new queue (not yet written); `pending`: records placed but not yet written, counted as load. */
  place(args: OpArgs<'createQueue'>, pending: readonly QueueMeta[] = []): QueueMeta {
    const live = [...this.#coord.nodes.keys()].sort();
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
    if (!this.#coord.isSupervisor) return;
    for (const meta of this.#coord.queues.values()) {
      if (this.#coord.nodes.has(meta.leader)) {
        this.#deadSince.delete(meta.name);
        continue;
      }
      if (!this.#deadSince.has(meta.name)) this.#deadSince.set(meta.name, Date.now());
      if (this.#failing.has(meta.name)) continue;
      this.#failing.add(meta.name);
      this.#failover(meta)
        .catch((err: unknown) => this.#log.error({ err, queue: meta.name }, 'failover attempt failed; retrying'))
        .finally(() => this.#failing.delete(meta.name));
    }
  }

  async #failover(meta: QueueMeta): Promise<void> {
    const candidates = meta.replicas.filter((r) => r !== meta.leader && this.#coord.nodes.has(r));
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

  close(): void {
    clearInterval(this.#timer);
  }
}
