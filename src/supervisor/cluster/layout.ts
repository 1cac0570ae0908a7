/**
 * The layout of a partitioned queue (docs/cluster.md "Partitions and autoscale"): which partitions
 * exist, which take sends, and where a message group's sends go. Pure functions; the front end
 * (partitions.ts) and the autoscaler (autoscaler.ts) use them, etcd holds the layout (meta.ts).
 *
 * - Partitions are numbered 0..total−1. Partition 0 is the queue's own record (`/ferry/queues/NAME`),
 *   partition i ≥ 1 a hidden record `NAME#i` ('#' is not allowed in queue names). Each is a full
 *   replicated unit (replicas, leader, epoch) like a queue of one partition.
 * - The first `active` partitions take sends; those from `active` to `total`−1 are retiring: they
 *   take no new sends, consumers drain them, and the autoscaler deletes them once empty.
 * - A send's home is `jump(key, active)`: Lamping & Veach's jump consistent hash of its group
 *   (strict: groupId, or '' without one; relaxed: groupId, else dedupId; relaxed sends with neither
 *   go round-robin). Growing from n to n+1 moves only the groups that now hash to n; shrinking
 *   moves only those of the retired partition.
 * - `gen` numbers the layout; it grows at every change and every partition's record carries it:
 *   a partition's leader takes a send only when the sender routed it by the same generation
 *   (the fence that makes the strict rule below hold while nodes learn the change at different times).
 * - `history` lists the active counts of the generations whose routing may still hold messages
 *   (oldest first; the last is `active`).
 *
 * The strict-order rule: a group's messages are in at most one partition at any time, and a send
 * goes there. A strict send walks `chain(group)`: the distinct homes of the group in every
 * generation of `history`, the current home last. Every partition of the chain but the home gets
 * a *conditional* send — stored only if that partition holds a message of the group (any state) —
 * and the home gets the send unconditionally when every conditional one was refused. Why it holds:
 * (1) a partition that is not the group's home only ever gets conditional sends of it (fence), so
 * once it holds none of the group it never will again in this generation; (2) the home stores the
 * group only after every other chain member was seen empty of it, and by (1) they stay empty; so
 * the holders of a group are at most one partition, which is in the chain, and a send reaches it.
 * The partition's actor then gives FIFO and one-in-flight per group as for a single partition: a
 * group moves to its new home only after its last message in the old one was deleted.
 * `history` is cut back to the current generation when every partition holds only groups whose
 * current home it is (autoscaler.ts), which keeps (1)–(2) true.
 */

export interface Layout {
  gen: number;
  /** Partitions that take sends: 0..active−1. */
  active: number;
  /** Partitions that exist (active + retiring): 0..total−1. */
  total: number;
  /** Active counts of the generations still relevant to strict routing, oldest first; the last equals `active`. */
  history: number[];
}

export const PARTITION_MARK = '#';

/** The record name of partition `index` of queue `name`. */
export function partitionName(name: string, index: number): string {
  return index === 0 ? name : `${name}${PARTITION_MARK}${index}`;
}

/** Whether a record name is a hidden partition (not a queue clients see). */
export function isPartitionName(name: string): boolean {
  return name.includes(PARTITION_MARK);
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;
const JUMP_MULT = 2862933555777941757n;

/** 64-bit FNV-1a of a string's UTF-8 bytes. */
export function hashKey(key: string): bigint {
  let h = FNV_OFFSET;
  for (const b of Buffer.from(key, 'utf8')) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

/** Jump consistent hash (Lamping & Veach 2014): a bucket in 0..buckets−1. */
export function jump(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  let k = key;
  while (j < buckets) {
    b = j;
    k = (k * JUMP_MULT + 1n) & MASK64;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(k >> 33n) + 1)));
  }
  return b;
}

/** The partition that takes sends of routing key `key` now. */
export function home(layout: Layout, key: string): number {
  return jump(hashKey(key), layout.active);
}

/** The partitions a strict send of group `key` tries, in order; the last is its home (see the top comment). */
export function chain(layout: Layout, key: string): number[] {
  const h = hashKey(key);
  const homes = layout.history.map((n) => jump(h, n));
  const last = homes[homes.length - 1]!;
  const out: number[] = [];
  for (const p of homes) if (p !== last && p < layout.total && !out.includes(p)) out.push(p);
  out.push(last);
  return out;
}

/** Whether `groups` held by partition `index` are all at their current home (history may then be cut). */
export function allAtHome(layout: Layout, index: number, groups: readonly string[]): boolean {
  return groups.every((g) => home(layout, g) === index);
}

export function initialLayout(partitions: number): Layout {
  return { gen: 1, active: partitions, total: partitions, history: [partitions] };
}

/** One more active partition (a retiring one comes back first, else a new one is added). */
export function grow(layout: Layout): Layout {
  const active = layout.active + 1;
  return { gen: layout.gen + 1, active, total: Math.max(layout.total, active), history: [...layout.history, active] };
}

/** The highest active partition starts retiring. */
export function shrink(layout: Layout): Layout {
  const active = layout.active - 1;
  return { gen: layout.gen + 1, active, total: layout.total, history: [...layout.history, active] };
}

/** The highest retiring partition is gone (it was empty). */
export function dropLast(layout: Layout): Layout {
  return { ...layout, gen: layout.gen + 1, total: layout.total - 1 };
}

/** History cut back to the current generation. */
export function settle(layout: Layout): Layout {
  return { ...layout, gen: layout.gen + 1, history: [layout.active] };
}

export function isLayout(v: unknown): v is Layout {
  if (typeof v !== 'object' || v === null) return false;
  const l = v as Record<string, unknown>;
  return Number.isSafeInteger(l.gen) && (l.gen as number) >= 1
    && Number.isInteger(l.active) && (l.active as number) >= 1
    && Number.isInteger(l.total) && (l.total as number) >= (l.active as number)
    && Array.isArray(l.history) && l.history.length >= 1 && l.history.every((n) => Number.isInteger(n) && n >= 1)
    && l.history[l.history.length - 1] === l.active;
}
