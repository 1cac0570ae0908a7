/**
 * What nodes say to each other inside peer-link calls and casts (transport/peer-frames.ts).
 * A peer is another Ferry node, but its frames are still outside input: `parseCall`/`parseCast`
 * check the shape before anything acts on them.
 */
import type { WireError } from '../../protocol/errors.js';
import type { DeliveredMessage, OpArgs } from '../../protocol/ops.js';
import type { InsertItem } from '../../actors/queue-actor.js';
import type { LogEntry, ReplicaMark } from '../../actors/replica-log.js';
import type { ForwardId } from '../../storage/keys.js';
import { Limits } from '../../protocol/limits.js';

export type PeerCall =
  /** A client request forwarded by the node the client is connected to (`origin` = its session there). */
  | { t: 'op'; origin: number; req: { op: string; args: unknown } }
  /** createQueue, sent to the cluster supervisor (placement is its decision). */
  | { t: 'create'; args: OpArgs<'createQueue'> }
  /** Leader → follower: one entry of the queue's storage log. */
  | { t: 'repl'; entry: LogEntry }
  /** Leader → follower: replace your copy of the queue with this snapshot. */
  | { t: 'install'; qid: string; rows: Array<[Uint8Array, Uint8Array]>; mark: ReplicaMark }
  /** Supervisor → replica: how far does your copy of the queue go? */
  | { t: 'mark'; qid: string }
  /**
   * A move into a queue this node leads (cluster-moves.ts): a dead letter or a redriven message
   * (with its origin, for idempotence), or unroutable sends (without). Answered once committed.
   */
  | { t: 'insert'; qid: string; items: InsertItem[] }
  /** The source of a move dropped its outbox record for good: drop the arrival marker. */
  | { t: 'forget'; qid: string; origin: ForwardId }
  /** Heartbeat (reachability.ts): answered at once with an empty result. */
  | { t: 'ping' }
  /** Supervisor → leader of `epoch`: hand the queue over to this placement (handover.ts). */
  | { t: 'handover'; qid: string; epoch: number; leader: string; replicas: string[] }
  /** Supervisor → node: the load of the queues you lead since the last time asked (load-meter.ts). */
  | { t: 'load' }
  /** Front end → supervisor: a client's moveQueue or drainNode (validated again there). */
  | { t: 'admin'; req: { op: string; args: unknown } }
  /**
   * Front end (or the autoscaler) → leader of one partition `qid` of a partitioned queue
   * (partition-ops.ts): a client op, or an internal one; with `gen`, only if the partition's record
   * has that layout generation.
   */
  | { t: 'part'; origin: number; qid: string; gen?: number; req: { op: string; args: unknown } };

export type PeerCast =
  /** Origin → leader node: the client session closed (release its leases, end its subscriptions). */
  | { t: 'closeSession'; origin: number }
  /** Leader node → origin: messages for a forwarded subscription. */
  | { t: 'push'; origin: number; sub: number; messages: DeliveredMessage[] }
  | { t: 'subEnd'; origin: number; sub: number; error: WireError };

const QID = /^[0-9a-f]{16}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isMark(v: unknown): v is ReplicaMark {
  return isObject(v) && Number.isSafeInteger(v.epoch) && Number.isSafeInteger(v.seq);
}

function isForwardId(v: unknown): v is ForwardId {
  return isObject(v) && typeof v.qid === 'string' && QID.test(v.qid) && Number.isSafeInteger(v.seq) && (v.gid === undefined || Number.isSafeInteger(v.gid));
}

function isInsertItem(v: unknown): v is InsertItem {
  if (!isObject(v) || (v.origin !== undefined && !isForwardId(v.origin))) return false;
  const m = v.message;
  return isObject(m) && typeof m.id === 'string' && m.body instanceof Uint8Array
    && (m.attributes === undefined || isObject(m.attributes)) && (m.groupId === undefined || typeof m.groupId === 'string')
    && (m.deadLetter === undefined || (isObject(m.deadLetter) && typeof m.deadLetter.reason === 'string' && typeof m.deadLetter.sourceQueue === 'string'));
}

function isEntry(v: unknown): v is LogEntry {
  return isObject(v) && typeof v.qid === 'string' && QID.test(v.qid) && Number.isSafeInteger(v.epoch)
    && Number.isSafeInteger(v.prevEpoch) && Number.isSafeInteger(v.seq) && Array.isArray(v.ops)
    && v.ops.every((op) => isObject(op) && op.key instanceof Uint8Array && (op.type === 'del' || (op.type === 'put' && op.value instanceof Uint8Array)));
}

export function parseCall(m: unknown): PeerCall | undefined {
  if (!isObject(m)) return undefined;
  switch (m.t) {
    case 'op':
      return Number.isSafeInteger(m.origin) && isObject(m.req) && typeof m.req.op === 'string' ? (m as PeerCall) : undefined;
    case 'create':
      return isObject(m.args) && typeof m.args.queue === 'string' ? (m as PeerCall) : undefined;
    case 'repl':
      return isEntry(m.entry) ? (m as PeerCall) : undefined;
    case 'install':
      return typeof m.qid === 'string' && QID.test(m.qid) && isMark(m.mark) && Array.isArray(m.rows)
        && m.rows.every((r) => Array.isArray(r) && r.length === 2 && r[0] instanceof Uint8Array && r[1] instanceof Uint8Array) ? (m as PeerCall) : undefined;
    case 'mark':
      return typeof m.qid === 'string' && QID.test(m.qid) ? (m as PeerCall) : undefined;
    case 'insert':
      return typeof m.qid === 'string' && QID.test(m.qid) && Array.isArray(m.items) && m.items.length > 0
        && m.items.length <= Limits.maxBatchEntries && m.items.every(isInsertItem) ? (m as PeerCall) : undefined;
    case 'forget':
      return typeof m.qid === 'string' && QID.test(m.qid) && isForwardId(m.origin) ? (m as PeerCall) : undefined;
    case 'ping':
      return { t: 'ping' };
    case 'handover':
      return typeof m.qid === 'string' && QID.test(m.qid) && Number.isSafeInteger(m.epoch) && typeof m.leader === 'string'
        && Array.isArray(m.replicas) && m.replicas.length > 0 && m.replicas.every((r) => typeof r === 'string') && m.replicas.includes(m.leader) ? (m as PeerCall) : undefined;
    case 'load':
      return m as PeerCall;
    case 'admin':
      return isObject(m.req) && typeof m.req.op === 'string' ? (m as PeerCall) : undefined;
    case 'part':
      return Number.isSafeInteger(m.origin) && typeof m.qid === 'string' && QID.test(m.qid) && (m.gen === undefined || Number.isSafeInteger(m.gen))
        && isObject(m.req) && typeof m.req.op === 'string' ? (m as PeerCall) : undefined;
    default:
      return undefined;
  }
}

export function parseCast(m: unknown): PeerCast | undefined {
  if (!isObject(m) || !Number.isSafeInteger(m.origin)) return undefined;
  switch (m.t) {
    case 'closeSession':
      return m as PeerCast;
    case 'push':
      return Number.isSafeInteger(m.sub) && Array.isArray(m.messages) ? (m as PeerCast) : undefined;
    case 'subEnd':
      return Number.isSafeInteger(m.sub) && isObject(m.error) ? (m as PeerCast) : undefined;
    default:
      return undefined;
  }
}
