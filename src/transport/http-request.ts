/**
 * HTTP requests with bodies on the uWS port. uWS hands the body over in chunks through `onData`
 * (each chunk's ArrayBuffer is valid only inside the callback, so it is copied), and a response
 * may be written only until `onAborted` fires. `serveHttp` reads the whole body up to a limit,
 * copies the headers out while the request object is still valid, and calls the service once.
 * A body over the limit is not kept: the service's `tooLarge` answer goes out once it has arrived.
 */
import { STATUS_CODES } from 'node:http';
import type { HttpRequest as UwsRequest, HttpResponse } from 'uWebSockets.js';

export interface HttpRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Raw query string, without `?`. */
  query: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** Handles one request; `reply` may be called later (long polls) and only once. */
export interface HttpService {
  /** Largest body read; past it the request is answered with `tooLarge`. */
  readonly maxBodyBytes: number;
  handle(req: HttpRequest, reply: (r: HttpReply) => void, signal: AbortSignal): void;
  /** The answer to a body over `maxBodyBytes`. */
  tooLarge(req: HttpRequest, limit: number): HttpReply;
}

const DISCARD_FACTOR = 4;

export function serveHttp(res: HttpResponse, uwsReq: UwsRequest, service: HttpService): void {
  const headers: Record<string, string> = {};
  uwsReq.forEach((k, v) => {
    headers[k] = headers[k] === undefined ? v : `${headers[k]},${v}`;
  });
  const req: HttpRequest = { method: uwsReq.getCaseSensitiveMethod().toUpperCase(), path: uwsReq.getUrl(), query: uwsReq.getQuery() ?? '', headers, body: Buffer.alloc(0) };
  const abort = new AbortController();
  let done = false;
  res.onAborted(() => {
    done = true;
    abort.abort();
  });
  const reply = (r: HttpReply): void => {
    if (done) return;
    done = true;
    res.cork(() => {
      res.writeStatus(`${r.status} ${STATUS_CODES[r.status] ?? ''}`.trimEnd());
      for (const [k, v] of Object.entries(r.headers)) res.writeHeader(k, v);
      res.end(r.body);
    });
  };
  const run = (): void => {
    try {
      service.handle(req, reply, abort.signal);
    } catch (err) {
      reply({ status: 500, headers: { 'content-type': 'text/plain' }, body: `internal error: ${err instanceof Error ? err.message : String(err)}\n` });
    }
  };
  if (req.method === 'GET') return run();
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    if (done) return;
    size += chunk.byteLength;
    if (!over) {
      if (size > service.maxBodyBytes) over = true;
      else chunks.push(Buffer.from(chunk.slice(0)));
    }
    // An oversized body is read and dropped so the client gets its 413 instead of a reset
    // connection, up to a point: past DISCARD_FACTOR times the limit the connection is closed.
    if (over && size > service.maxBodyBytes * DISCARD_FACTOR) {
      done = true;
      res.close();
      return;
    }
    if (!isLast) return;
    if (over) {
      reply(service.tooLarge(req, service.maxBodyBytes));
      return;
    }
    req.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    run();
  });
}
