/**
 * What the leader of one partition of a partitioned queue runs for a `part` peer call
 * (peer-messages.ts): the checks before it (the record, leadership, the layout-generation fence of
 * layout.ts) and the request itself, checked like any outside input.
 *
 * - client ops: validated as the client's request on the queue's name, then run on the partition
 *   (the request's `queue` becomes the partition's record name, which the router knows it by);
 * - `sendIfGroup {queue, group, entries}`: validated as a sendBatch plus the group;
 * - `heldGroups`, `load`: no arguments.
 */
import { ErrorCodes, FerryError, type WireError } from '../../protocol/errors.js';
import { Limits } from '../../protocol/limits.js';
import { InvalidRequest, validateRequest, type ValidRequest } from '../../protocol/validate.js';
import type { QueueRequest } from '../../actors/shard-messages.js';
import type { QueueMeta } from './meta.js';

export type PartRequest =
  | { kind: 'client'; req: ValidRequest }
  | { kind: 'internal'; req: QueueRequest; messages: number }
  | { kind: 'load' };

/** Ops that store messages: fenced by the layout generation and counted by the load meter. */
export const SENDING_OPS: ReadonlySet<string> = new Set(['send', 'sendBatch', 'sendIfGroup']);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a `part` call against this node's view; undefined when this node may run it. */
export function partRefusal(self: string, meta: QueueMeta | undefined, gen: number | undefined, op: string): WireError | undefined {
  if (meta?.part === undefined) return { code: ErrorCodes.QueueDoesNotExist, message: 'no such partition', field: 'queue' };
  if (meta.leader !== self) return { code: ErrorCodes.NotLeader, message: `node ${meta.leader} leads partition ${meta.name}`, retryable: true };
  if (SENDING_OPS.has(op) && gen === undefined) return { code: ErrorCodes.InvalidField, message: 'a send to a partition needs its layout generation', field: 'gen' };
  if (gen !== undefined && gen !== meta.part.gen) {
    return { code: ErrorCodes.NotLeader, message: `partition ${meta.name} is at layout generation ${meta.part.gen}, the request was routed by ${gen}; route again`, retryable: true };
  }
  return undefined;
}

/** The request of a `part` call on partition `meta`, validated; throws InvalidRequest. */
export function parsePartRequest(meta: QueueMeta, op: string, args: unknown, maxBodyBytes: number): PartRequest {
  if (op === 'load') return { kind: 'load' };
  if (op === 'heldGroups') return { kind: 'internal', req: { op: 'heldGroups', args: {} }, messages: 0 };
  const queue = meta.part!.of;
  if (op === 'sendIfGroup') {
    const a = isObj(args) ? args : {};
    const group = a.group;
    if (typeof group !== 'string' || group.length > Limits.maxIdLength) {
      throw new InvalidRequest(0, new FerryError(ErrorCodes.InvalidField, `group must be a string of at most ${Limits.maxIdLength} characters`, { field: 'group' }));
    }
    const batch = validateRequest({ id: 0, op: 'sendBatch', args: { queue, entries: a.entries } }, maxBodyBytes);
    const entries = (batch as Extract<ValidRequest, { op: 'sendBatch' }>).args.entries;
    return { kind: 'internal', req: { op: 'sendIfGroup', args: { group, entries } }, messages: entries.length };
  }
  const req = validateRequest({ id: 0, op, args: isObj(args) ? { ...args, queue } : args }, maxBodyBytes);
  // The router knows the partition by its record's name.
  return { kind: 'client', req: { ...req, args: { ...req.args, queue: meta.name } } as ValidRequest };
}

/** Messages a client request stores (the load meter's count). */
export function sentCount(req: ValidRequest): number {
  return req.op === 'send' ? 1 : req.op === 'sendBatch' ? req.args.entries.length : 0;
}
