/**
 * Partitions of partitioned queues: their placement at creation, and the autoscaler that the
 * cluster supervisor runs (docs/cluster.md "Partitions and autoscale"; layout.ts for the layout).
 *
 * Every TICK_MS, for each queue with `partitioning.autoscale`, the supervisor asks every partition's
 * leader for its load (messages held, sends per second) — fenced by the layout generation, so an
 * answer speaks for the current layout — and takes at most one step (`decide`, pure):
 *
 * - drop: the highest retiring partition is empty → it leaves the layout, then it is deleted. Empty
 *   and retiring, it is no group's home and holds no group, so no send can reach it any more.
 * - grow: an active partition is above `highPct` of `limit` (or the queue is below
 *   `minPartitions`) and the queue is below `maxPartitions` → one more active partition. A retiring
 *   one comes back first; else a new record is placed on the least-loaded nodes first, outside the
 *   layout (index = total, the current generation), and joins the layout at a later step once its
 *   leader answers: sends never wait for a partition that is still starting.
 * - shrink: every active partition stayed below `lowPct` of `limit` for LOW_TICKS ticks and the queue
 *   is above `minPartitions` → the highest active partition starts retiring: it takes no new
 *   sends, consumers drain it, and a later step drops it.
 * - settle: nothing else to do, and every partition holds only groups whose current home it is →
 *   the strict-routing history is cut back to the current generation.
 *
 * Each step is one etcd transaction over every partition record of the queue (layout and generation
 * together), conditional on none of them having changed since they were read.
 */
import type { Logger } from 'pino';
import { ErrorCodes, type WireError } from '../../protocol/errors.js';
import type { OpArgs } from '../../protocol/ops.js';
import { DEFAULT_PARTITIONING, samePartitioning, type Partitioning } from '../../protocol/partitioning.js';
import type { Answer } from '../shard-pool.js';
import type { Coordinator } from './coordinator.js';
import { allAtHome, dropLast, grow, initialLayout, partitionName, settle, shrink, type Layout } from './layout.js';
import type { QueueMeta } from './meta.js';
import type { ClusterSupervisor } from './supervisor.js';

export interface AutoscalerPorts {
  /** Runs an op on a partition at its leader (layout-fenced with `gen`). */
  call(part: QueueMeta, gen: number | undefined, op: string, args: object, done: (a: Answer) => void): void;
}

export interface PartitionLoad {
  /** Messages held, every state. */
  messages: number;
  /** Sends per second into it. */
  ratePerSec: number;
}

export type ScaleStep = 'drop' | 'grow' | 'shrink' | 'none';

const TICK_MS = Number(process.env.FERRY_AUTOSCALE_TICK_MS ?? 1000);
/** Consecutive low ticks before a shrink (hysteresis: a short lull does not retire a partition). */
export const LOW_TICKS = 3;

/** The records of a new queue: one, or its partitions (partition 0 under the queue's name carries the layout). */
export function placePartitioned(supervisor: ClusterSupervisor, args: OpArgs<'createQueue'>): QueueMeta[] {
  if (args.partitioning === undefined) return [supervisor.place(args)];
  const partitioning: Partitioning = { ...DEFAULT_PARTITIONING, ...args.partitioning };
  const layout = initialLayout(partitioning.partitions);
  const metas: QueueMeta[] = [];
  for (let i = 0; i < layout.total; i++) {
    const m = supervisor.place({ ...args, queue: partitionName(args.queue, i) }, metas);
    m.part = { of: args.queue, index: i, gen: layout.gen };
    if (i === 0) {
      m.layout = layout;
      m.partitioning = partitioning;
    }
    metas.push(m);
  }
  return metas;
}

/** createQueue of an existing queue whose partitioning differs from the request's, or undefined. */
export function partitionedCreateRefusal(existing: QueueMeta, args: OpArgs<'createQueue'>): WireError | undefined {
  if (args.partitioning === undefined) return undefined;
  const field = existing.partitioning === undefined ? 'partitioning' : samePartitioning(existing.partitioning, { ...DEFAULT_PARTITIONING, ...args.partitioning });
  if (field === undefined) return undefined;
  const path = field === 'partitioning' ? field : `partitioning.${field}`;
  return { code: ErrorCodes.QueueAlreadyExists, message: `queue ${existing.name} exists with another ${path}`, field: path };
}

/** The autoscaler's decision for one queue (pure; see the top comment). `lowTicks`: consecutive low ticks before this one. */
export function decide(layout: Layout, p: Partitioning, loads: readonly PartitionLoad[], lowTicks: number): { step: ScaleStep; low: boolean } {
  const metric = (l: PartitionLoad): number => (p.limitBy === 'backlog' ? l.messages : l.ratePerSec);
  const active = loads.slice(0, layout.active);
  const low = active.every((l) => metric(l) * 100 < p.lowPct * p.limit);
  if (layout.total > layout.active && loads[layout.total - 1]?.messages === 0) return { step: 'drop', low };
  const high = active.some((l) => metric(l) * 100 > p.highPct * p.limit);
  if ((high || layout.active < p.minPartitions) && layout.active < p.maxPartitions) return { step: 'grow', low };
  if (low && lowTicks + 1 >= LOW_TICKS && layout.active > p.minPartitions) return { step: 'shrink', low };
  return { step: 'none', low };
}

export class Autoscaler {
  readonly #coord: Coordinator;
  readonly #supervisor: ClusterSupervisor;
  readonly #ports: AutoscalerPorts;
  readonly #log: Logger;
  readonly #busy = new Set<string>();
  readonly #lowTicks = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;

  constructor(coord: Coordinator, supervisor: ClusterSupervisor, ports: AutoscalerPorts, log: Logger, tickMs = TICK_MS) {
    this.#coord = coord;
    this.#supervisor = supervisor;
    this.#ports = ports;
    this.#log = log;
    this.#timer = setInterval(() => this.tick(), tickMs);
    this.#timer.unref();
  }

  tick(): void {
    if (!this.#coord.isSupervisor) return;
    for (const m of this.#coord.queues.values()) {
      // A partition whose queue is gone (a deleteQueue that did not finish, or a grow that raced it).
      if (m.part !== undefined && m.part.index > 0 && !this.#coord.queues.has(m.part.of) && !this.#busy.has(m.name)) {
        this.#busy.add(m.name);
        void this.#ask(m, undefined, 'deleteQueue').finally(() => this.#busy.delete(m.name));
      }
    }
    for (const root of this.#coord.queues.values()) {
      if (root.layout === undefined || root.partitioning?.autoscale !== true || this.#busy.has(root.name)) continue;
      this.#busy.add(root.name);
      this.#step(root)
        .catch((err: unknown) => this.#log.warn({ err, queue: root.name }, 'autoscale step failed; retrying'))
        .finally(() => this.#busy.delete(root.name));
    }
  }

  #ask(part: QueueMeta, gen: number | undefined, op: string): Promise<Answer> {
    return new Promise((resolve) => this.#ports.call(part, gen, op, { queue: part.part!.of }, resolve));
  }

  #parts(root: QueueMeta, total: number): Array<QueueMeta | undefined> {
    return Array.from({ length: total }, (_, i) => (i === 0 ? root : this.#coord.queues.get(partitionName(root.name, i))));
  }

  async #step(root: QueueMeta): Promise<void> {
    const layout = root.layout!;
    await this.#deleteOrphans(root, layout);
    const parts = this.#parts(root, layout.total);
    if (parts.some((p) => p === undefined)) return;
    const answers = await Promise.all(parts.map((p) => this.#ask(p!, layout.gen, 'load')));
    if (answers.some((a) => 'error' in a)) return; // a partition between leaders, or a node behind on the layout: next tick
    const loads = answers.map((a) => (a as { result: PartitionLoad }).result);
    const lowTicks = this.#lowTicks.get(root.name) ?? 0;
    const { step, low } = decide(layout, root.partitioning!, loads, lowTicks);
    this.#lowTicks.set(root.name, low && step === 'none' ? lowTicks + 1 : 0);
    switch (step) {
      case 'drop': {
        const dropped = parts[layout.total - 1]!;
        if (await this.#commit(root, parts, dropLast(layout))) {
          this.#log.info({ queue: root.name, partition: layout.total - 1 }, 'autoscale: dropped an empty retired partition');
          await this.#ask(dropped, undefined, 'deleteQueue');
        }
        return;
      }
      case 'grow': {
        if (layout.active < layout.total) {
          if (await this.#commit(root, parts, grow(layout))) this.#log.info({ queue: root.name, partitions: layout.active + 1, loads }, 'autoscale: a retiring partition takes sends again');
          return;
        }
        const next = this.#coord.queues.get(partitionName(root.name, layout.total));
        if (next === undefined) {
          const m = this.#supervisor.place({ queue: partitionName(root.name, layout.total), attributes: root.attributes, acks: root.acks });
          m.part = { of: root.name, index: layout.total, gen: layout.gen };
          if (await this.#coord.commitRecords([m], [])) this.#log.info({ queue: root.name, partition: layout.total, leader: m.leader }, 'autoscale: placed a new partition');
          return;
        }
        if ('error' in (await this.#ask(next, layout.gen, 'load'))) return; // its leader does not serve it yet
        if (await this.#commit(root, [...parts, next], grow(layout))) this.#log.info({ queue: root.name, partitions: layout.active + 1, loads }, 'autoscale: added a partition');
        return;
      }
      case 'shrink':
        if (await this.#commit(root, parts, shrink(layout))) this.#log.info({ queue: root.name, partitions: layout.active - 1, loads }, 'autoscale: retiring a partition');
        return;
      case 'none':
        if (layout.history.length > 1) await this.#settle(root, parts, layout);
    }
  }

  /** Cuts the strict-routing history once every partition holds only groups at their current home. */
  async #settle(root: QueueMeta, parts: Array<QueueMeta | undefined>, layout: Layout): Promise<void> {
    const answers = await Promise.all(parts.map((p) => this.#ask(p!, layout.gen, 'heldGroups')));
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i]!;
      if ('error' in a || !allAtHome(layout, i, (a.result as { groups: string[] }).groups)) return;
    }
    if (await this.#commit(root, parts, settle(layout))) this.#log.info({ queue: root.name }, 'autoscale: every group is at its home; routing history cut');
  }

  /** Writes `next` to every partition record that stays, and creates the ones it adds. */
  async #commit(root: QueueMeta, parts: Array<QueueMeta | undefined>, next: Layout): Promise<boolean> {
    const updates: QueueMeta[] = [];
    const creates: QueueMeta[] = [];
    for (let i = 0; i < next.total; i++) {
      const p = parts[i];
      if (p === undefined) {
        const m = this.#supervisor.place({ queue: partitionName(root.name, i), attributes: root.attributes, acks: root.acks }, creates);
        m.part = { of: root.name, index: i, gen: next.gen };
        creates.push(m);
      } else {
        updates.push(i === 0 ? { ...p, part: { ...p.part!, gen: next.gen }, layout: next } : { ...p, part: { ...p.part!, gen: next.gen } });
      }
    }
    return this.#coord.commitRecords(creates, updates);
  }

  /**
   * Partition records past the layout's end: a drop whose delete did not finish, or a partition
   * placed for a grow that a later change of the layout left behind. Deleted now. (One placed for
   * a grow of the current generation waits for that grow.)
   */
  async #deleteOrphans(root: QueueMeta, layout: Layout): Promise<void> {
    for (const m of [...this.#coord.queues.values()]) {
      if (m.part?.of !== root.name || m.part.index < layout.total || m.name === root.name) continue;
      if (m.part.index === layout.total && m.part.gen === layout.gen) continue;
      const a = await this.#ask(m, undefined, 'deleteQueue');
      if ('error' in a) this.#log.warn({ queue: m.name, error: a.error }, 'cannot delete a retired partition yet');
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
