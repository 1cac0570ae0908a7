/**
 * Unroutable sends (docs/queue-semantics.md, "Unroutable sends"): a send to a queue that does not
 * exist is kept, with a broker-wide `unroutableQueue`, as dead letters (reason noSuchQueue), and
 * the producer still gets QueueDoesNotExist, with `keptIn` naming where they went. The router
 * (single node) and the cluster node (cluster mode, where that queue may be led elsewhere) both
 * build the items and the answers here.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCodes, type WireError } from '../protocol/errors.js';
import type { SendEntry } from '../protocol/ops.js';
import type { InsertItem } from '../actors/queue-actor.js';

/** The dead letters that keep `entries`, sent to the missing queue `name`. */
export function unroutableItems(name: string, entries: readonly SendEntry[], now: number): InsertItem[] {
  return entries.map((e) => {
    const originalMessageId = randomUUID();
    const message: InsertItem['message'] = {
      id: originalMessageId,
      body: e.body,
      deadLetter: { reason: 'noSuchQueue', sourceQueue: name, originalMessageId, receiveCount: 0, firstSentAt: now, deadLetteredAt: now },
    };
    if (e.attributes !== undefined) message.attributes = e.attributes;
    if (e.groupId !== undefined) message.groupId = e.groupId;
    return { message };
  });
}

/** The plain answer: no such queue, nothing kept. */
export function noSuchQueue(name: string): WireError {
  return { code: ErrorCodes.QueueDoesNotExist, message: `queue ${name} does not exist`, field: 'queue' };
}

/** The answer once `count` messages were kept in `keptIn`. */
export function keptIn(name: string, keptIn: string, count: number): WireError {
  return {
    code: ErrorCodes.QueueDoesNotExist,
    message: `queue ${name} does not exist; the message${count === 1 ? ' was' : 's were'} kept in queue ${keptIn}`,
    field: 'queue',
    keptIn,
  };
}
