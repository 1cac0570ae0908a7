/**
 * What cluster mode refuses (docs/cluster.md, "Queue semantics in a cluster"): moves of messages between
 * queues. A dead-letter move or a redrive is carried by the main thread of the node whose shard
 * holds the source queue (supervisor/forwarder.ts, redrive.ts) straight to the local shard of the
 * target; in a cluster the target may be led by another node, and that path is not routed through
 * the cluster yet. So a dead-letter queue cannot be set and redrive tasks cannot start, rather than
 * dead letters being written into a replica that no leader serves.
 */
import { ErrorCodes, type WireError } from '../../protocol/errors.js';
import type { ValidRequest } from '../../protocol/validate.js';

export type RedriveOp = 'startRedrive' | 'listRedrives' | 'cancelRedrive';

/** The answer to a redrive op in cluster mode. */
export function redriveRefusal(op: RedriveOp): WireError {
  return { code: ErrorCodes.NotSupportedInCluster, message: `${op}: redrive tasks are not supported in cluster mode` };
}

/** The refusal of a createQueue/setQueueAttributes that sets a dead-letter queue, or undefined. */
export function deadLetterRefusal(req: ValidRequest): WireError | undefined {
  if (req.op !== 'createQueue' && req.op !== 'setQueueAttributes') return undefined;
  const target = req.args.attributes?.deadLetter;
  // null removes a dead-letter queue: always allowed.
  if (target === undefined || target === null) return undefined;
  return {
    code: ErrorCodes.NotSupportedInCluster,
    message: 'attributes.deadLetter: dead-letter queues are not supported in cluster mode',
    field: 'attributes.deadLetter',
  };
}
