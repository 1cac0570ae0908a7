/**
 * Cluster metadata as it lives in etcd (the source of truth; every node caches it and follows a
 * watch). Values are JSON; each is validated when read, because etcd is an outside input too.
 *
 *   /ferry/nodes/<nodeId>   → NodeInfo, bound to the node's lease: the key vanishes when the node dies
 *   /ferry/supervisor       → nodeId of the cluster supervisor, bound to its lease (election by
 *                             create-if-absent transaction)
 *   /ferry/queues/<name>    → QueueMeta: the queue's id, attributes, replica set, leader, epoch
 *   /ferry/reach/<nodeId>   → JSON array of the peers that node cannot reach over peer links, bound
 *                             to its lease (reachability.ts)
 *   /ferry/draining/<id>    → {since}: the node is being drained (no new copies go there; the
 *                             supervisor moves its copies away). Not bound to a lease: a new
 *                             supervisor carries the drain on.
 *
 * A queue has one partition unless it was created with `partitioning` (layout.ts: then every
 * partition is such a record, partition 0 under the queue's name). A partition's leader runs its QueueActor, the other replicas follow its
 * storage log (actors/replica-log.ts). `epoch` grows by one at every change of leader and fences
 * the deposed one.
 */
import type { AcksPolicy, QueueAttributes } from '../../protocol/ops.js';
import type { QueueCatalog } from '../dead-letter-check.js';
import { partitioningArg, type Partitioning } from '../../protocol/partitioning.js';
import { isLayout, partitionName, type Layout } from './layout.js';

export type { AcksPolicy };

export const KEYS = {
  root: '/ferry/',
  nodes: '/ferry/nodes/',
  supervisor: '/ferry/supervisor',
  queues: '/ferry/queues/',
  reach: '/ferry/reach/',
  draining: '/ferry/draining/',
} as const;

export interface NodeInfo {
  id: string;
  /** ws://host:port; clients use /ws on it, peers /peer. */
  url: string;
}

export interface QueueMeta {
  name: string;
  id: string;
  attributes: Partial<QueueAttributes>;
  createdAt: number;
  /** Node ids; the leader is one of them. */
  replicas: string[];
  leader: string;
  epoch: number;
  acks: AcksPolicy;
  /**
   * Nodes receiving the queue's log that do not count yet (a move in progress: migration.ts).
   * They are no replicas: never promoted, never counted for `acks`.
   */
  learners?: string[];
  /**
   * A partitioned queue (layout.ts): set on every one of its partitions' records. Partition 0 is
   * the queue's own record and also carries the layout and the partitioning settings.
   */
  part?: PartInfo;
  layout?: Layout;
  partitioning?: Partitioning;
}

export interface PartInfo {
  /** The queue's name (partition 0's record name). */
  of: string;
  index: number;
  /** The layout generation this record was last written with (the send fence). */
  gen: number;
}

export class MetadataError extends Error {
  override readonly name = 'MetadataError';
  readonly code = 'InvalidClusterMetadata';
}

function obj(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new MetadataError(`${what}: not JSON`, { cause: err });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MetadataError(`${what}: not an object`);
  return v as Record<string, unknown>;
}

export function parseNode(text: string): NodeInfo {
  const v = obj(text, 'node');
  if (typeof v.id !== 'string' || typeof v.url !== 'string') throw new MetadataError('node: id and url must be strings');
  return { id: v.id, url: v.url };
}

export function parseQueue(text: string): QueueMeta {
  const v = obj(text, 'queue');
  const ok = typeof v.name === 'string' && typeof v.id === 'string' && /^[0-9a-f]{16}$/.test(v.id)
    && typeof v.attributes === 'object' && v.attributes !== null && typeof v.createdAt === 'number'
    && Array.isArray(v.replicas) && v.replicas.every((r) => typeof r === 'string')
    && typeof v.leader === 'string' && Number.isInteger(v.epoch) && (v.epoch as number) >= 1
    && (v.acks === 'leader' || v.acks === 'quorum' || v.acks === 'all')
    && (v.learners === undefined || (Array.isArray(v.learners) && v.learners.every((r) => typeof r === 'string')));
  if (!ok) throw new MetadataError(`queue ${String(v.name)}: malformed record`);
  if (v.part !== undefined) {
    const p = v.part as Record<string, unknown> | null;
    const partOk = typeof p === 'object' && p !== null && typeof p.of === 'string' && Number.isInteger(p.index) && (p.index as number) >= 0
      && Number.isSafeInteger(p.gen) && partitionName(p.of, p.index as number) === v.name;
    if (!partOk) throw new MetadataError(`queue ${v.name}: malformed partition info`);
  }
  if (v.layout !== undefined || v.partitioning !== undefined) {
    const p = v.part as PartInfo | undefined;
    if (p?.index !== 0 || !isLayout(v.layout) || (v.layout as Layout).gen !== p.gen) throw new MetadataError(`queue ${v.name}: malformed layout`);
    try {
      v.partitioning = partitioningArg(v.partitioning);
    } catch (err) {
      throw new MetadataError(`queue ${v.name}: malformed partitioning`, { cause: err });
    }
  }
  return v as unknown as QueueMeta;
}

/** The cluster's queues (the metadata cache) as deadLetter checks and redrive targets see them. */
export function metadataCatalog(queues: () => ReadonlyMap<string, QueueMeta> | undefined): QueueCatalog {
  return {
    exists: (name) => queues()?.has(name) === true,
    deadLetterOf: (name) => {
      const meta = queues()?.get(name);
      return meta === undefined ? undefined : meta.attributes.deadLetter?.queue ?? null;
    },
    count: () => queues()?.size ?? 0,
  };
}

/** A node's reachability report: the ids of the peers it cannot reach. */
export function parseReach(text: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new MetadataError('reach: not JSON', { cause: err });
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new MetadataError('reach: not an array of node ids');
  return v as string[];
}

/** Replicas that must hold an entry (the leader included) before it counts as committed. */
export function requiredCopies(acks: AcksPolicy, replicas: number, liveReplicas: number): number {
  switch (acks) {
    case 'leader':
      return 1;
    case 'quorum':
      return Math.floor(replicas / 2) + 1;
    case 'all':
      // Every live replica, and never fewer than a quorum.
      return Math.max(Math.floor(replicas / 2) + 1, liveReplicas);
  }
}

/** Every node that holds (or is receiving) a copy of the queue. */
export function holders(meta: QueueMeta): string[] {
  return [...meta.replicas, ...(meta.learners ?? [])];
}
