/**
 * The contract of one SQS action handler (actions/): it gets the request's input in the AWS JSON
 * 1.0 shape of the SQS model and returns the output in that shape (undefined for actions whose
 * output is empty). Both wire protocols share the handlers; json-protocol.ts and
 * query-protocol.ts only translate.
 */
import type { SqsBackend } from './backend.js';
import type { Input } from './input.js';
import type { SqsMetadataStore } from './metadata.js';
import type { SqsIdentity } from './queue-url.js';

export interface ActionContext {
  readonly backend: SqsBackend;
  readonly meta: SqsMetadataStore;
  readonly id: SqsIdentity;
  /** host[:port] the client addressed, for the queue URLs we hand back. */
  readonly host: string;
  /** Aborted when the HTTP client goes away (a long poll stops waiting). */
  readonly signal: AbortSignal;
}

export type Output = Record<string, unknown> | undefined;

export type ActionHandler = (input: Input, ctx: ActionContext) => Promise<Output>;
