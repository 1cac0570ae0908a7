/**
 * The `partitioning` argument of createQueue (cluster mode, docs/cluster.md "Partitions and
 * autoscale"): how many partitions a queue starts with, and whether the cluster supervisor adds and
 * retires partitions by load. A single node validates it and ignores it (one partition per queue),
 * as it does `acks`.
 *
 * Every field is checked here with a code naming it (`partitioning.maxPartitions`), including the
 * rules across fields; the rules that involve the queue's attributes (no stream, no ordering
 * window) are `partitioningConflict`'s.
 */
import { ErrorCodes, FerryError } from './errors.js';
import type { QueueAttributes } from './ops.js';

/** What the autoscaler measures against `limit`: messages held by a partition, or sends per second into it. */
export type ScaleMetric = 'backlog' | 'rate';
export const SCALE_METRICS: readonly ScaleMetric[] = ['backlog', 'rate'];

export interface Partitioning {
  /** Partitions at creation. */
  partitions: number;
  /** Let the cluster supervisor add and retire partitions by load. */
  autoscale: boolean;
  /** Autoscale never goes below this many partitions… */
  minPartitions: number;
  /** …nor above this many. */
  maxPartitions: number;
  /** `backlog`: messages held by a partition (every state); `rate`: messages sent into it per second. */
  limitBy: ScaleMetric;
  /** A partition's capacity in `limitBy` units. */
  limit: number;
  /** A partition above this percentage of `limit` makes the queue grow by one partition. */
  highPct: number;
  /** When every active partition is below this percentage of `limit`, the queue shrinks by one. */
  lowPct: number;
}

export const PARTITIONS_CEILING = 64;

export const DEFAULT_PARTITIONING: Readonly<Partitioning> = Object.freeze({
  partitions: 1,
  autoscale: false,
  minPartitions: 1,
  maxPartitions: 8,
  limitBy: 'backlog' as ScaleMetric,
  limit: 10_000,
  highPct: 80,
  lowPct: 20,
});

const FIELDS = Object.keys(DEFAULT_PARTITIONING) as Array<keyof Partitioning>;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function intIn(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new FerryError(ErrorCodes.InvalidField, `${field} must be an integer`, { field });
  if (v < min || v > max) throw new FerryError(ErrorCodes.ValueOutOfRange, `${field} must be from ${min} to ${max}, got ${v}`, { field });
  return v;
}

/** `partitioning` from outside: known fields, types, ranges, and the rules between them. Defaults fill the rest. */
export function partitioningArg(v: unknown, path = 'partitioning'): Partitioning {
  if (!isObj(v)) throw new FerryError(ErrorCodes.InvalidField, `${path} must be a map`, { field: path });
  const out: Partitioning = { ...DEFAULT_PARTITIONING };
  for (const key of Object.keys(v)) {
    const field = `${path}.${key}`;
    const value = v[key];
    if (!(FIELDS as string[]).includes(key)) throw new FerryError(ErrorCodes.InvalidField, `${field} is not a partitioning field (known: ${FIELDS.join(', ')})`, { field });
    if (value === undefined || value === null) continue;
    switch (key as keyof Partitioning) {
      case 'partitions': out.partitions = intIn(value, field, 1, PARTITIONS_CEILING); break;
      case 'minPartitions': out.minPartitions = intIn(value, field, 1, PARTITIONS_CEILING); break;
      case 'maxPartitions': out.maxPartitions = intIn(value, field, 1, PARTITIONS_CEILING); break;
      case 'limit': out.limit = intIn(value, field, 1, 1_000_000_000); break;
      case 'highPct': out.highPct = intIn(value, field, 1, 100); break;
      case 'lowPct': out.lowPct = intIn(value, field, 0, 99); break;
      case 'autoscale':
        if (typeof value !== 'boolean') throw new FerryError(ErrorCodes.InvalidField, `${field} must be true or false`, { field });
        out.autoscale = value;
        break;
      case 'limitBy':
        if (typeof value !== 'string' || !(SCALE_METRICS as readonly string[]).includes(value)) {
          throw new FerryError(ErrorCodes.InvalidField, `${field} must be one of ${SCALE_METRICS.join(', ')}`, { field });
        }
        out.limitBy = value as ScaleMetric;
        break;
    }
  }
  // A max below the defaults of the others lowers them only when they were not given.
  if (v.maxPartitions !== undefined && v.partitions === undefined) out.partitions = Math.min(out.partitions, out.maxPartitions);
  if (v.maxPartitions !== undefined && v.minPartitions === undefined) out.minPartitions = Math.min(out.minPartitions, out.maxPartitions);
  if (v.partitions !== undefined && v.maxPartitions === undefined) out.maxPartitions = Math.max(out.maxPartitions, out.partitions);
  if (out.minPartitions > out.maxPartitions) {
    throw new FerryError(ErrorCodes.InvalidField, `${path}.minPartitions (${out.minPartitions}) must not exceed maxPartitions (${out.maxPartitions})`, { field: `${path}.minPartitions` });
  }
  if (out.partitions > out.maxPartitions) {
    throw new FerryError(ErrorCodes.InvalidField, `${path}.partitions (${out.partitions}) must not exceed maxPartitions (${out.maxPartitions})`, { field: `${path}.partitions` });
  }
  if (out.lowPct >= out.highPct) {
    throw new FerryError(ErrorCodes.InvalidField, `${path}.lowPct (${out.lowPct}) must be below highPct (${out.highPct})`, { field: `${path}.lowPct` });
  }
  return out;
}

/**
 * Queue attributes a partitioned queue cannot have, or undefined. A stream's consumer groups read
 * one log, and an ordering window orders one partition's arrivals: neither spans partitions.
 */
export function partitioningConflict(attributes: Partial<QueueAttributes> | undefined): FerryError | undefined {
  if (attributes?.mode === 'stream') {
    return new FerryError(ErrorCodes.InvalidField, 'partitioning: a stream-mode queue has one partition', { field: 'partitioning' });
  }
  if (attributes?.orderingWindowMs !== undefined && attributes.orderingWindowMs > 0) {
    return new FerryError(ErrorCodes.InvalidField, 'partitioning: an ordering window needs a queue of one partition', { field: 'partitioning' });
  }
  return undefined;
}

export function samePartitioning(a: Partitioning, b: Partitioning): keyof Partitioning | undefined {
  return FIELDS.find((k) => a[k] !== b[k]);
}
