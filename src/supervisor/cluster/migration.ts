/**
 * The supervisor's side of a move (docs/cluster.md "Moving queues"): one queue to a new placement
 * (a new leader, a new replica set, or both). Used by moveQueue, drainNode and the rebalancer.
 *
 *   1. Nodes of the new replica set that hold no copy yet become the queue's learners (a CAS in
 *      etcd): the leader's replicator sends them a snapshot, then streams its log to them. They do
 *      not count for `acks` and are never promoted, so a half-copied node changes nothing.
 *   2. Wait until every learner's mark is within MAX_LAG entries of the leader's.
 *   3. Ask the leader to hand over (handover.ts): it stops serving, waits until the new set holds
 *      everything it acknowledged, and writes the new placement with epoch + 1.
 *   4. Nodes outside the new set drop their copy when they see the new record (cluster-node.ts).
 * On failure the learners are removed again and the queue stays where it was.
 */
import type { Logger } from 'pino';
import type { ReplicaMark } from '../../actors/replica-log.js';
import type { PeerAnswer } from '../../transport/peer-frames.js';
import { MoveError, type HandoverPlan } from './handover.js';
import type { QueueMeta } from './meta.js';
import type { PeerCall } from './peer-messages.js';

export interface MoverPorts {
  queue(name: string): QueueMeta | undefined;
  update(next: QueueMeta): Promise<boolean>;
  markOn(node: string, qid: string): Promise<ReplicaMark | undefined>;
  call(node: string, m: PeerCall, timeoutMs: number): Promise<PeerAnswer>;
}

export interface MoverOptions {
  /** How long learners may take to catch up before the move is abandoned. */
  catchUpMs: number;
  /** How long the leader may stay frozen waiting for the new set. */
  handoverMs: number;
}

/** Learners this close to the leader are caught up enough for the (brief) frozen final wait. */
const MAX_LAG = 500;
const POLL_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Mover {
  readonly #ports: MoverPorts;
  readonly #log: Logger;
  readonly #opts: MoverOptions;
  readonly #moving = new Set<string>();

  constructor(ports: MoverPorts, log: Logger, opts: MoverOptions = { catchUpMs: 30_000, handoverMs: 10_000 }) {
    this.#ports = ports;
    this.#log = log;
    this.#opts = opts;
  }

  /** Moves in progress. */
  get busy(): number {
    return this.#moving.size;
  }

  isMoving(name: string): boolean {
    return this.#moving.has(name);
  }

  /** Moves queue `name` to `plan`; resolves with its new record. Throws MoveError. */
  async move(name: string, plan: HandoverPlan, why: string): Promise<QueueMeta> {
    if (this.#moving.has(name)) throw new MoveError(`a move of queue ${name} is already running`);
    this.#moving.add(name);
    const started = Date.now();
    try {
      const meta = this.#ports.queue(name);
      if (meta === undefined) throw new MoveError(`queue ${name} does not exist`);
      this.#log.info({ queue: name, from: { leader: meta.leader, replicas: meta.replicas }, to: plan, why }, 'moving a queue');
      const newcomers = plan.replicas.filter((n) => !meta.replicas.includes(n));
      try {
        if (newcomers.length > 0) await this.#addLearners(meta, newcomers);
        const current = this.#ports.queue(name)!;
        const a = await this.#ports.call(current.leader, {
          t: 'handover', qid: current.id, epoch: current.epoch, leader: plan.leader, replicas: plan.replicas,
        }, this.#opts.handoverMs + 5_000);
        if ('error' in a) throw new MoveError(`leader ${current.leader} did not hand over queue ${name}: ${a.error.message}`);
        const moved = await this.#waitFor(name, (m) => m.epoch > current.epoch, 5_000);
        this.#log.info({ queue: name, leader: moved.leader, replicas: moved.replicas, epoch: moved.epoch, ms: Date.now() - started, why }, 'moved a queue');
        return moved;
      } catch (err) {
        await this.#dropLearners(meta).catch(() => undefined);
        throw err;
      }
    } finally {
      this.#moving.delete(name);
    }
  }

  async #addLearners(meta: QueueMeta, learners: string[]): Promise<void> {
    if (!(await this.#ports.update({ ...meta, learners }))) throw new MoveError(`the metadata of queue ${meta.name} changed; try again`);
    await this.#waitFor(meta.name, (m) => m.learners !== undefined && learners.every((n) => m.learners!.includes(n)), 5_000);
    const deadline = Date.now() + this.#opts.catchUpMs;
    for (;;) {
      const cur = this.#ports.queue(meta.name);
      if (cur?.id !== meta.id || cur.epoch !== meta.epoch) throw new MoveError(`queue ${meta.name} changed leader while its new replicas caught up`);
      const lead = await this.#ports.markOn(cur.leader, meta.id);
      const marks = await Promise.all(learners.map((n) => this.#ports.markOn(n, meta.id)));
      if (lead !== undefined && marks.every((m) => m !== undefined && m.epoch === lead.epoch && lead.seq - m.seq <= MAX_LAG)) return;
      if (Date.now() >= deadline) throw new MoveError(`the new replicas of queue ${meta.name} did not catch up within ${this.#opts.catchUpMs} ms`);
      await sleep(POLL_MS);
    }
  }

  /** A failed move leaves no learners behind (they drop their partial copy when they see it). */
  async #dropLearners(meta: QueueMeta): Promise<void> {
    const cur = this.#ports.queue(meta.name);
    if (cur?.id !== meta.id || cur.learners === undefined) return;
    const { learners: _learners, ...rest } = cur;
    await this.#ports.update(rest);
  }

  async #waitFor(name: string, pred: (m: QueueMeta) => boolean, timeoutMs: number): Promise<QueueMeta> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.#ports.queue(name);
      if (m !== undefined && pred(m)) return m;
      if (Date.now() >= deadline) throw new MoveError(`the metadata of queue ${name} did not show the move in time`);
      await sleep(20);
    }
  }
}
