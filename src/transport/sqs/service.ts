/**
 * The SQS HTTP front end on the broker's port: at `/` and at queue URLs `/ACCOUNT/QUEUE`. It picks
 * the wire protocol (AWS JSON 1.0 when the request carries `X-Amz-Target` or a JSON content type,
 * else the query protocol), checks the SigV4 signature when credentials are configured, runs the
 * action handler and writes its output or error in that protocol.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { HttpReply, HttpRequest, HttpService } from '../http-request.js';
import type { ActionContext } from './action.js';
import { actionNamed } from './actions/index.js';
import type { SqsBackend } from './backend.js';
import { SqsError } from './errors.js';
import type { Input } from './input.js';
import { isJsonRequest, jsonAction, jsonError, jsonReply, parseJsonInput } from './json-protocol.js';
import type { SqsMetadataStore } from './metadata.js';
import { parseQueryInput, queryError, queryReply } from './query-protocol.js';
import type { SqsIdentity } from './queue-url.js';
import { parseQueryString, verifySigV4, type SqsCredential } from './sigv4.js';

export interface SqsServiceOptions {
  backend: SqsBackend;
  meta: SqsMetadataStore;
  id: SqsIdentity;
  /** When set, every request must be SigV4-signed with one of these. */
  credentials: readonly SqsCredential[] | undefined;
  maxBodyBytes: number;
  /** host:port for queue URLs when a request has no Host header. */
  defaultHost: () => string;
  log: Logger;
}

/**
 * Request body ceiling: ten messages of the broker's largest body, allowing for the growth of
 * their encoding (form encoding turns one UTF-8 byte into up to three characters), plus 1 MiB for
 * attributes (base64 Binary values) and the rest of the request.
 */
export function sqsBodyLimit(maxMessageBytes: number): number {
  return Math.max(1, 10 * Math.min(maxMessageBytes, 1_048_576) * 3 + 1024 * 1024);
}

export class SqsService implements HttpService {
  readonly #o: SqsServiceOptions;
  readonly maxBodyBytes: number;

  constructor(options: SqsServiceOptions) {
    this.#o = options;
    this.maxBodyBytes = options.maxBodyBytes;
  }

  tooLarge(req: HttpRequest, limit: number): HttpReply {
    const err = new SqsError('RequestEntityTooLarge', `The request body is larger than ${limit} bytes.`);
    return isJsonRequest(req.headers) ? jsonError(err, randomUUID()) : queryError(err, randomUUID());
  }

  handle(req: HttpRequest, reply: (r: HttpReply) => void, signal: AbortSignal): void {
    const requestId = randomUUID();
    const json = isJsonRequest(req.headers);
    let action = '';
    const fail = (err: unknown): void => {
      const e = err instanceof SqsError ? err : new SqsError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.', { cause: err });
      if (e.code === 'InternalFailure') this.#o.log.error({ err, action }, 'SQS request failed');
      reply(json ? jsonError(e, requestId) : queryError(e, requestId));
    };
    try {
      if (this.#o.backend.shuttingDown) throw new SqsError('ServiceUnavailable', 'The broker is shutting down; retry on another node or later.');
      if (this.#o.credentials !== undefined) verifySigV4(req, this.#o.credentials);
      let input: Input;
      if (json) {
        if (req.method !== 'POST') throw new SqsError('InvalidAction', 'The AWS JSON protocol takes POST requests.');
        action = jsonAction(req.headers);
        input = parseJsonInput(req.body);
      } else {
        ({ action, input } = parseQueryInput(this.#formParams(req)));
      }
      // The query protocol may name the queue by the request's path instead of a QueueUrl parameter.
      if (req.path !== '/' && input.QueueUrl === undefined) input.QueueUrl = req.path;
      const handler = actionNamed(action);
      if (handler === undefined) {
        throw json
          ? new SqsError('UnknownOperationException', `Unknown operation ${action.slice(0, 100)}.`)
          : new SqsError('InvalidAction', `The action ${action.slice(0, 100)} is not valid for this endpoint.`);
      }
      const ctx: ActionContext = {
        backend: this.#o.backend, meta: this.#o.meta, id: this.#o.id, host: req.headers.host ?? this.#o.defaultHost(), signal,
      };
      handler(input, ctx).then(
        (output) => reply(json ? jsonReply(output, requestId) : queryReply(action, output, requestId)),
        fail,
      );
    } catch (err) {
      fail(err);
    }
  }

  #formParams(req: HttpRequest): Array<[string, string]> {
    try {
      const params = parseQueryString(req.query);
      if (req.method === 'POST' && req.body.byteLength > 0) params.push(...parseQueryString(req.body.toString('utf8')));
      return params;
    } catch (err) {
      throw new SqsError('MalformedQueryString', `The form parameters are not valid URL encoding: ${(err as Error).message}`);
    }
  }
}
