/**
 * The AWS JSON 1.0 protocol as SQS serves it (Smithy "AWS JSON 1.0 protocol"; the SQS model's
 * `awsQueryCompatible` trait): POST `/`, `X-Amz-Target: AmazonSQS.<Action>`, content type
 * `application/x-amz-json-1.0`, the input and output as JSON objects with blobs in base64. An
 * error is `{"__type": "com.amazonaws.sqs#<Code>", "message"}` with the status of its shape and the
 * header `x-amzn-query-error: <query code>;Sender|Receiver`, from which query-compatible SDKs
 * take the legacy error code.
 */
import type { HttpReply } from '../http-request.js';
import type { Output } from './action.js';
import { SqsError } from './errors.js';
import { isObj, type Input } from './input.js';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
export const TARGET_PREFIX = 'AmazonSQS.';

/** Errors raised by the JSON front end itself, named as Amazon's front end names them. */
const FRONT_END_NAMESPACE: Partial<Record<SqsError['code'], string>> = {
  SerializationException: 'com.amazon.coral.service',
  UnknownOperationException: 'com.amazon.coral.service',
};

export function isJsonRequest(headers: Record<string, string>): boolean {
  return headers['x-amz-target'] !== undefined || (headers['content-type'] ?? '').startsWith('application/x-amz-json');
}

export function jsonAction(headers: Record<string, string>): string {
  const target = headers['x-amz-target'];
  if (target === undefined) throw new SqsError('MissingAction', 'The request must carry an X-Amz-Target header (AmazonSQS.<Action>).');
  if (!target.startsWith(TARGET_PREFIX)) throw new SqsError('UnknownOperationException', `Unknown target ${target.slice(0, 100)}.`);
  return target.slice(TARGET_PREFIX.length);
}

export function parseJsonInput(body: Buffer): Input {
  if (body.byteLength === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new SqsError('SerializationException', `The request body is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObj(v)) throw new SqsError('SerializationException', 'The request body must be a JSON object.');
  return v;
}

export function jsonReply(output: Output, requestId: string): HttpReply {
  return { status: 200, headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-requestid': requestId }, body: JSON.stringify(output ?? {}) };
}

export function jsonError(err: SqsError, requestId: string): HttpReply {
  const ns = FRONT_END_NAMESPACE[err.code] ?? 'com.amazonaws.sqs';
  return {
    status: err.status,
    headers: {
      'content-type': JSON_CONTENT_TYPE,
      'x-amzn-requestid': requestId,
      'x-amzn-query-error': `${err.queryCode};${err.fault}`,
    },
    body: JSON.stringify({ __type: `${ns}#${err.code}`, message: err.message }),
  };
}
