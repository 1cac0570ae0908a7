/**
 * The leader's side of a move (docs/cluster.md "Moving queues"): hands a queue over to a new
 * leader and/or a new replica set, without losing an acknowledged write.
 *
 * The leader is the only node that knows exactly which writes it acknowledged, so it makes the
 * switch itself:
 *   1. freeze: the queue's actor stops (requests meet NotLeader and the front end retries them);
 *      every request that reached the actor before has its log entry, so the head is final;
 *   2. wait until the head is committed under the old replica set (the replies held for it are
 *      released) AND is held by the new leader AND by as many members of the new replica set as
 *      its `acks` policy requires: then every acknowledged write is committed under the new set
 *      too, and the failover rule of the new set (supervisor.ts) can never skip one;
 *   3. one compare-and-swap in etcd: the new leader, the new replicas, epoch + 1, no learners.
 *      The new epoch fences anything the old leader might still send.
 * If the wait times out or the CAS loses (the metadata changed meanwhile), the leader serves the
 * queue again in the same epoch (nothing in etcd changed, so it is still the only leader).
 */
import { requiredCopies, type AcksPolicy, type QueueMeta } from './meta.js';
import type { ReplicationProgress } from './replicator.js';

/** The placement a move asks for. */
export interface HandoverPlan {
  leader: string;
  replicas: string[];
}

export class MoveError extends Error {
  override readonly name = 'MoveError';
  readonly code = 'MoveFailed';
}

export interface HandoverPorts {
  /** Stops serving the queue (its actor stops); resolves once its shard confirmed. */
  freeze(qid: string): Promise<void>;
  /** Serves the queue again (the handover did not happen). */
  resume(qid: string): void;
  progress(qid: string): ReplicationProgress | undefined;
  isLive(node: string): boolean;
  /** The cached metadata of the queue (follows the etcd watch). */
  current(qid: string): QueueMeta | undefined;
  /** Compare-and-swap of the queue's record against the cached revision. */
  update(next: QueueMeta): Promise<boolean>;
}

export interface HandoverOptions {
  timeoutMs: number;
  pollMs: number;
}

/** Step 2's condition (see the top comment). */
export function handoverReady(p: ReplicationProgress, self: string, plan: HandoverPlan, acks: AcksPolicy, isLive: (node: string) => boolean): boolean {
  if (p.committed < p.head) return false;
  const holds = (node: string): boolean => node === self || (p.acked.get(node) ?? 0) >= p.head;
  if (!holds(plan.leader)) return false;
  const live = plan.replicas.filter((n) => n === self || isLive(n)).length;
  return plan.replicas.filter(holds).length >= requiredCopies(acks, plan.replicas.length, live);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the handover of `meta` (led by `self`) to `plan`; resolves with the record written. */
export async function handOver(ports: HandoverPorts, self: string, meta: QueueMeta, plan: HandoverPlan, opts: HandoverOptions): Promise<QueueMeta> {
  const unchanged = (): boolean => {
    const cur = ports.current(meta.id);
    return cur !== undefined && cur.epoch === meta.epoch && cur.leader === self;
  };
  await ports.freeze(meta.id);
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (!unchanged()) throw new MoveError(`queue ${meta.name} changed leader or epoch during the handover`);
    const p = ports.progress(meta.id);
    if (p !== undefined && handoverReady(p, self, plan, meta.acks, ports.isLive)) break;
    if (Date.now() >= deadline) {
      ports.resume(meta.id);
      throw new MoveError(`the new replicas of queue ${meta.name} did not catch up within ${opts.timeoutMs} ms`);
    }
    await sleep(opts.pollMs);
  }
  const current = ports.current(meta.id)!;
  const { learners: _learners, ...rest } = current;
  const next: QueueMeta = { ...rest, leader: plan.leader, replicas: [...plan.replicas], epoch: current.epoch + 1 };
  let written: boolean;
  try {
    written = await ports.update(next);
  } catch (err) {
    // Outcome unknown: the watch tells. If etcd said nothing within the window, the CAS did not
    // apply (and a node cut off from etcd stops acknowledging anyway: leaseSafe).
    const until = Date.now() + opts.timeoutMs;
    while (unchanged() && Date.now() < until) await sleep(opts.pollMs);
    if (ports.current(meta.id)?.epoch === next.epoch) return ports.current(meta.id)!;
    if (unchanged()) ports.resume(meta.id);
    throw new MoveError(`cannot write the handover of queue ${meta.name} to etcd: ${(err as Error).message}`, { cause: err });
  }
  if (!written) {
    if (unchanged()) ports.resume(meta.id);
    throw new MoveError(`the metadata of queue ${meta.name} changed during the handover`);
  }
  return next;
}
