/**
 * How the SQS layer reaches queues: every SQS action becomes one or more Ferry protocol requests,
 * validated by the same `validateRequest` as a WebSocket frame and routed through the same Router,
 * so an SQS queue and a Ferry queue are one and the same.
 */
import { valueOf } from '../../protocol/encoded.js';
import { ErrorCodes, type WireError } from '../../protocol/errors.js';
import { InvalidRequest, validateRequest, type ValidRequest } from '../../protocol/validate.js';
import type { Answer } from '../../supervisor/shard-pool.js';
import { SqsError, type SqsErrorCode } from './errors.js';

/** A Ferry error answer to a request the SQS layer made. */
export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  constructor(readonly wire: WireError) {
    super(wire.message);
  }
  get code(): string {
    return this.wire.code;
  }
}

export interface BrokerPort {
  dispatch(session: number, req: ValidRequest, done: (a: Answer) => void): void;
  /** Drops the long polls of a session (an HTTP client went away in the middle of one). */
  closeSession(session: number): void;
  readonly maxBodyBytes: number;
  readonly shuttingDown: boolean;
}

export class SqsBackend {
  readonly #port: BrokerPort;
  /** Each request is its own session (so a long poll can be dropped alone), numbered far above WebSocket sessions. */
  #nextSession = 2 ** 40;

  constructor(port: BrokerPort) {
    this.#port = port;
  }

  get maxBodyBytes(): number {
    return this.#port.maxBodyBytes;
  }

  get shuttingDown(): boolean {
    return this.#port.shuttingDown;
  }

  /**
   * One protocol request. Rejects with BrokerError for an error answer or a request the broker's
   * validation refuses (an op or field this broker does not know yet is `UnknownOp`/`InvalidAttribute`).
   * An aborted signal (the HTTP client left) drops a pending long poll.
   */
  call<T>(op: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    let req: ValidRequest;
    try {
      req = validateRequest({ id: 0, op, args }, this.#port.maxBodyBytes);
    } catch (err) {
      if (err instanceof InvalidRequest) return Promise.reject(new BrokerError(err.error.toWire()));
      return Promise.reject(err);
    }
    const session = this.#nextSession++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => this.#port.closeSession(session);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#port.dispatch(session, req, (answer) => {
        signal?.removeEventListener('abort', onAbort);
        if ('error' in answer) reject(new BrokerError(answer.error));
        else resolve(valueOf(answer.result) as T);
      });
    });
  }
}

/** Default translation of a Ferry error into the SQS error a client expects. */
export function toSqsError(err: unknown, overrides: Partial<Record<string, SqsErrorCode>> = {}): SqsError {
  if (err instanceof SqsError) return err;
  if (!(err instanceof BrokerError)) {
    return new SqsError('InternalFailure', err instanceof Error ? err.message : String(err), { cause: err });
  }
  const w = err.wire;
  const override = overrides[w.code];
  if (override !== undefined) return new SqsError(override, w.message, { cause: err });
  switch (w.code) {
    case ErrorCodes.QueueDoesNotExist:
      return new SqsError('QueueDoesNotExist', 'The specified queue does not exist.', { cause: err });
    case ErrorCodes.QueueAlreadyExists:
      return new SqsError('QueueNameExists', `A queue already exists with the same name and a different value for attribute: ${w.message}`, { cause: err });
    case ErrorCodes.ReceiptHandleIsInvalid:
      return new SqsError('ReceiptHandleIsInvalid', `The input receipt handle is invalid: ${w.message}`, { cause: err });
    case ErrorCodes.ReceiptHandleExpired:
      return new SqsError('InvalidParameterValue', `Value for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired (${w.message}).`, { cause: err });
    case ErrorCodes.MissingField:
      return new SqsError('MissingParameter', w.message, { cause: err });
    case ErrorCodes.InvalidAttribute:
      // An unknown name is the caller naming something Ferry lacks; anything else under this code is
      // a rule across attributes (own DLQ, a cycle, deadLetterNew without a DLQ): a bad value.
      return /is not a queue attribute/.test(w.message)
        ? new SqsError('InvalidAttributeName', `This broker does not support the attribute: ${w.message}`, { cause: err })
        : new SqsError('InvalidAttributeValue', w.field === undefined ? w.message : `${w.message} (${w.field})`, { cause: err });
    case ErrorCodes.UnknownOp:
      return new SqsError('UnsupportedOperation', `This broker does not support the operation yet: ${w.message}`, { cause: err });
    case ErrorCodes.EmptyBatch:
      return new SqsError('EmptyBatchRequest', w.message, { cause: err });
    case ErrorCodes.BatchTooLarge:
      return new SqsError('BatchRequestTooLong', w.message, { cause: err });
    case ErrorCodes.QueueFull:
      return new SqsError('OverLimit', w.message, { cause: err });
    case ErrorCodes.ShardUnavailable:
    case ErrorCodes.ShuttingDown:
    case ErrorCodes.TooManyInFlight:
    case ErrorCodes.NotLeader:
    case ErrorCodes.PeerUnavailable:
    case ErrorCodes.NotEnoughReplicas:
      // Retryable on the Ferry side: the SDKs retry ServiceUnavailable (503) by themselves.
      return new SqsError('ServiceUnavailable', w.message, { cause: err });
    case ErrorCodes.Internal:
      return new SqsError('InternalFailure', w.message, { cause: err });
    default:
      // InvalidField, ValueOutOfRange, InvalidQueueName, EmptyBody, BodyTooLarge, and codes of newer
      // brokers (dead-letter, dedup, redrive rules): a bad parameter value, in the broker's words.
      return new SqsError('InvalidParameterValue', w.field === undefined ? w.message : `${w.message} (${w.field})`, { cause: err });
  }
}
