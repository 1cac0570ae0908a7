/**
 * The node's one port (uWebSockets.js): the client WebSocket at /ws and the HTTP endpoints
 * (/healthz, /readyz, /metrics, /admin/… for fault injection when enabled, and the SQS API at / and
 * /ACCOUNT/QUEUE, see sqs/service.ts).
 *
 * shared/STACK.md: this uWS package falls back to a slow JavaScript shim on a Node it has no binary
 * for; we refuse to start then rather than run 10× slower without saying so.
 */
import uWS from 'uWebSockets.js';
import type { HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { Limits } from '../protocol/limits.js';
import type { PeerServer } from './peer-server.js';
import { serveHttp, type HttpService } from './http-request.js';
import { FlushScheduler, Session, type RequestHandler, type SessionData } from './session.js';

const SUPPORTED_ABI = new Set(['93', '108', '115']);

export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(readonly code: 'UnsupportedRuntime' | 'ListenFailed', message: string) {
    super(message);
  }
}

export function assertNativeUws(): void {
  if (!SUPPORTED_ABI.has(process.versions.modules) || /^(true|1)$/i.test(process.env.UWS_USE_FALLBACK ?? '')) {
    throw new TransportError('UnsupportedRuntime', `uWebSockets.js has no native binary for Node ${process.version} (ABI ${process.versions.modules}); use Node 20`);
  }
}

/** An HTTP route: answers through `reply`, possibly later (async). */
export type HttpRoute = (reply: (status: string, contentType: string, body: string) => void, params: { path: string }) => void;

export interface ServerHooks {
  handler: RequestHandler;
  /** A connection opened or closed (the router releases its subscriptions). */
  sessionClosed(session: number): void;
  sessionCountChanged(delta: number): void;
  get: Record<string, HttpRoute>;
  post: Record<string, HttpRoute>;
  /** Cluster mode: the /peer route for links from other nodes. */
  peer?: PeerServer;
  /** Services that read request bodies (the SQS API), by route pattern; GET and POST. */
  services?: Record<string, HttpService>;
}

export class FerryServer {
  readonly #app: TemplatedApp;
  readonly #sessions = new Map<number, Session>();
  readonly #flusher = new FlushScheduler();
  #listen: us_listen_socket | undefined;
  #nextSession = 1;
  #port = 0;

  constructor(hooks: ServerHooks) {
    assertNativeUws();
    this.#app = uWS.App();
    this.#app.ws<SessionData>('/ws', {
      // Above the protocol's frame limit, so that an oversized frame reaches `message` and is
      // closed with a reason (1009); uWS itself drops past this without a close frame.
      maxPayloadLength: Limits.maxFrameBytes * 4,
      maxBackpressure: 64 * 1024 * 1024,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      open: (ws) => {
        const session = new Session(this.#nextSession++, ws, hooks.handler, this.#flusher);
        ws.getUserData().session = session;
        this.#sessions.set(session.id, session);
        hooks.sessionCountChanged(1);
      },
      message: (ws, message, isBinary) => {
        ws.getUserData().session?.onMessage(message, isBinary);
      },
      drain: (ws) => {
        ws.getUserData().session?.onDrain();
      },
      close: (ws) => {
        const session = ws.getUserData().session;
        if (session === undefined) return;
        session.markClosed();
        this.#sessions.delete(session.id);
        hooks.sessionCountChanged(-1);
        hooks.sessionClosed(session.id);
      },
    });
    if (hooks.peer !== undefined) this.#app.ws('/peer', hooks.peer.behavior());
    for (const [path, route] of Object.entries(hooks.get)) this.#app.get(path, (res, req) => this.#http(res, req.getUrl(), route));
    for (const [path, route] of Object.entries(hooks.post)) this.#app.post(path, (res, req) => this.#http(res, req.getUrl(), route));
    for (const [path, service] of Object.entries(hooks.services ?? {})) {
      this.#app.post(path, (res, req) => serveHttp(res, req, service));
      this.#app.get(path, (res, req) => serveHttp(res, req, service));
    }
    this.#app.any('/*', (res) => {
      res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json').end(JSON.stringify({ code: 'NotFound', message: 'no such endpoint' }));
    });
  }

  #http(res: HttpResponse, path: string, route: HttpRoute): void {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    route((status, contentType, body) => {
      if (aborted) return;
      res.cork(() => res.writeStatus(status).writeHeader('content-type', contentType).end(body));
    }, { path });
  }

  get port(): number {
    return this.#port;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#app.listen(host, port, (socket) => {
        if (!socket) return reject(new TransportError('ListenFailed', `cannot listen on ${host}:${port} (in use or not permitted)`));
        this.#listen = socket;
        this.#port = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
        resolve(this.#port);
      });
    });
  }

  /** Stops accepting connections; open sessions stay until closeSessions. */
  stopListening(): void {
    if (this.#listen !== undefined) uWS.us_listen_socket_close(this.#listen);
    this.#listen = undefined;
  }

  /** Sends what is pending to every session now. */
  flush(): void {
    this.#flusher.flushAll();
  }

  /** Closes every client connection (1001 going away), after flushing what is owed to it. */
  closeSessions(reason: string): void {
    this.flush();
    for (const s of [...this.#sessions.values()]) s.end(1001, reason);
  }

  session(id: number): Session | undefined {
    return this.#sessions.get(id);
  }

}
