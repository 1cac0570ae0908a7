/**
 * The real AWS SDK pointed at a test broker: no retries (an error reaches the test as the SDK
 * surfaces it), fixed dummy credentials unless given, and a raw HTTP helper for hand-made requests.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { BrokerProcess } from './broker.js';
import { poll } from './bounded.js';

export interface SqsClientOptions {
  accessKeyId?: string;
  secretAccessKey?: string;
}

export function sqsClient(t: { teardown(fn: () => unknown): void }, broker: BrokerProcess, opts: SqsClientOptions = {}): SQSClient {
  const client = new SQSClient({
    endpoint: broker.httpUrl,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: opts.accessKeyId ?? 'AKIDTEST', secretAccessKey: opts.secretAccessKey ?? 'secret' },
  });
  t.teardown(() => client.destroy());
  return client;
}

export interface RawReply {
  status: number;
  headers: Headers;
  text: string;
}

/** One HTTP request to the broker (query-protocol forms, malformed bodies). */
export async function rawRequest(broker: BrokerProcess, init: { path?: string; method?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<RawReply> {
  const res = await fetch(`${broker.httpUrl}${init.path ?? '/'}`, {
    method: init.method ?? 'POST',
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A query-protocol POST of these form parameters. */
export function queryRequest(broker: BrokerProcess, params: Record<string, string>, path = '/'): Promise<RawReply> {
  return rawRequest(broker, {
    path,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
}

/** Runs `fn` until it returns a value other than undefined, for about `tries` × `everyMs`. */
export function eventually<T>(fn: () => Promise<T | undefined>, tries = 50, everyMs = 100): Promise<T> {
  return poll('the condition', fn, { timeoutMs: tries * everyMs, intervalMs: everyMs });
}

/** The error a call was expected to fail with; a call that succeeds fails the test with a clear message. */
export async function rejection(call: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`rejected with a non-Error: ${String(err)}`);
  }
  throw new Error('expected the call to fail, but it succeeded');
}
