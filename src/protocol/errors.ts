/**
 * Error codes of the Ferry protocol. A code is stable: clients may switch on it.
 * Every error that crosses the wire is `{ code, message, field?, retryable? }`.
 * Documented one by one in docs/protocol.md.
 */
export const ErrorCodes = {
  /** The WebSocket message is not valid CBOR, or decodes to something that is not a request frame. */
  BadFrame: 'BadFrame',
  /** The frame's `op` is not an operation this server knows. */
  UnknownOp: 'UnknownOp',
  /** A required field is missing. `field` names it. */
  MissingField: 'MissingField',
  /** A field has the wrong type or shape. `field` names it. */
  InvalidField: 'InvalidField',
  /** A numeric field (timeouts, counts, limits) is outside its allowed range. `field` names it. */
  ValueOutOfRange: 'ValueOutOfRange',
  /** A message body of zero bytes. */
  EmptyBody: 'EmptyBody',
  /** A message body larger than the queue's `maxMessageBytes`, or than the broker's `--max-message-bytes`. */
  BodyTooLarge: 'BodyTooLarge',
  /** A batch with no entries. */
  EmptyBatch: 'EmptyBatch',
  /** A batch with more entries, or more bytes, than allowed. */
  BatchTooLarge: 'BatchTooLarge',
  /** A queue name that is not 1–80 of [A-Za-z0-9_-] with an optional `.fifo` suffix. */
  InvalidQueueName: 'InvalidQueueName',
  /** An unknown attribute name in createQueue/setQueueAttributes. `field` names it. */
  InvalidAttribute: 'InvalidAttribute',
  /** The named queue does not exist. */
  QueueDoesNotExist: 'QueueDoesNotExist',
  /** createQueue of an existing queue with different attributes. */
  QueueAlreadyExists: 'QueueAlreadyExists',
  /** A receipt handle that is malformed or belongs to another queue (or a deleted incarnation of it). */
  ReceiptHandleIsInvalid: 'ReceiptHandleIsInvalid',
  /**
   * A receipt handle from an earlier delivery: the message was delivered again since. changeVisibility
   * and nack also need the lease to be running; delete does not (an ack after the lease ran out still
   * deletes, as long as nobody received the message again).
   */
  ReceiptHandleExpired: 'ReceiptHandleExpired',
  /** credit/unsubscribe for a subscription this connection does not have. */
  UnknownSubscription: 'UnknownSubscription',
  /** A stream consumer group that does not exist (receive, seek, deleteGroup), or exists (createGroup). `field` is `group`. */
  GroupDoesNotExist: 'GroupDoesNotExist',
  GroupAlreadyExists: 'GroupAlreadyExists',
  /** The queue is full and its overflow policy rejects new messages. */
  QueueFull: 'QueueFull',
  /** The shard that owns the queue is restarting; the request was not applied. Retry. */
  ShardUnavailable: 'ShardUnavailable',
  /** The broker is shutting down. Retry on another node or later. */
  ShuttingDown: 'ShuttingDown',
  /** Cluster: this node does not (or no longer) lead the queue's partition; the request was not applied here. Retry. */
  NotLeader: 'NotLeader',
  /** Cluster: the write is durable on the leader but too few replicas acknowledged it in time. Retry (at-least-once: it may be applied twice). */
  NotEnoughReplicas: 'NotEnoughReplicas',
  /** Cluster: the node the request must go to cannot be reached right now. Retry. */
  PeerUnavailable: 'PeerUnavailable',
  /** moveQueue, drainNode: the op needs cluster mode (a single node has nowhere to move a queue). Not retryable. */
  ClusterOnly: 'ClusterOnly',
  /** Cluster: the node named in `field` (`to`, `node`) is not a live member of the cluster. */
  NodeNotLive: 'NodeNotLive',
  /** Cluster: the move cannot be done as asked (the target already leads the queue, or is draining); `field` names the argument. Not retryable. */
  MoveRefused: 'MoveRefused',
  /** Cluster: the move did not complete (the target did not catch up in time, the leader changed, another move of the queue runs); the queue is still served where etcd says. Retry. */
  MoveFailed: 'MoveFailed',
  /** Too many requests in flight on this connection. Retry after some complete. */
  TooManyInFlight: 'TooManyInFlight',
  /** Client side: the request got no reply in time. The request may or may not have been applied. */
  Timeout: 'Timeout',
  /** Client side: the connection closed before the reply arrived. The request may or may not have been applied. */
  ConnectionClosed: 'ConnectionClosed',
  /** A bug or an unexpected failure in the broker. */
  Internal: 'Internal',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Codes after which the same request may simply be sent again. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCodes.ShardUnavailable,
  ErrorCodes.ShuttingDown,
  ErrorCodes.TooManyInFlight,
  ErrorCodes.NotLeader,
  ErrorCodes.NotEnoughReplicas,
  ErrorCodes.PeerUnavailable,
  ErrorCodes.MoveFailed,
  ErrorCodes.Timeout,
  ErrorCodes.ConnectionClosed,
]);

export function isRetryable(code: ErrorCode): boolean {
  return RETRYABLE.has(code);
}

/** The error shape on the wire. */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** The request field at fault, as a dotted path (`entries.3.body`). */
  field?: string;
  retryable?: boolean;
  /** QueueDoesNotExist on a send when the broker keeps unroutable messages: the queue that kept them. */
  keptIn?: string;
}

/** Every error Ferry raises, on the server and in the client SDK. */
export class FerryError extends Error {
  override readonly name = 'FerryError';
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly retryable: boolean;
  /** See WireError.keptIn. */
  readonly keptIn: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { field?: string; cause?: unknown; keptIn?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options?.field;
    this.retryable = isRetryable(code);
    this.keptIn = options?.keptIn;
  }

  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message };
    if (this.field !== undefined) wire.field = this.field;
    if (this.retryable) wire.retryable = true;
    if (this.keptIn !== undefined) wire.keptIn = this.keptIn;
    return wire;
  }

  static fromWire(wire: WireError): FerryError {
    const options: { field?: string; keptIn?: string } = {};
    if (wire.field !== undefined) options.field = wire.field;
    if (typeof wire.keptIn === 'string') options.keptIn = wire.keptIn;
    return new FerryError(wire.code, wire.message, options);
  }
}

/** Turns anything thrown into a wire error; unknown throwables become `Internal`. */
export function toWireError(err: unknown): WireError {
  if (err instanceof FerryError) return err.toWire();
  const message = err instanceof Error ? err.message : String(err);
  return { code: ErrorCodes.Internal, message };
}
