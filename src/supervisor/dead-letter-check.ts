/**
 * The check of a `deadLetter` setting (createQueue, setQueueAttributes): it must name an existing
 * queue other than the queue itself, and must not close a cycle (a → b → a), or a message would
 * travel for ever. One rule for both modes; what "existing" means is the catalog's: a node's own
 * queues (single node) or the cluster's metadata (cluster mode, where the dead-letter queue may be
 * led by another node).
 */
import { ErrorCodes, type WireError } from '../protocol/errors.js';
import type { QueueAttributes } from '../protocol/ops.js';

export interface QueueCatalog {
  exists(name: string): boolean;
  /** The queue's dead-letter queue (null: none; undefined: unknown queue). */
  deadLetterOf(name: string): string | null | undefined;
  /** How many queues there are (bounds the cycle walk). */
  count(): number;
}

export function checkDeadLetter(name: string, attributes: Partial<QueueAttributes> | undefined, catalog: QueueCatalog): WireError | undefined {
  const dl = attributes?.deadLetter;
  if (dl === undefined || dl === null) return undefined;
  const field = 'attributes.deadLetter.queue';
  if (dl.queue === name) return { code: ErrorCodes.InvalidAttribute, message: `${field}: queue ${name} cannot be its own dead-letter queue`, field };
  if (!catalog.exists(dl.queue)) return { code: ErrorCodes.QueueDoesNotExist, message: `${field}: dead-letter queue ${dl.queue} does not exist; create it first`, field };
  const path = [name, dl.queue];
  for (let next = catalog.deadLetterOf(dl.queue); next !== undefined && next !== null; next = catalog.deadLetterOf(next)) {
    path.push(next);
    if (next === name) return { code: ErrorCodes.InvalidAttribute, message: `${field}: dead-letter cycle ${path.join(' → ')}`, field };
    if (path.length > catalog.count() + 1) break; // a cycle that does not involve this queue
  }
  return undefined;
}
