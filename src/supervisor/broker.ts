/**
 * The broker node: wires the shard pool, the router, the metrics and the server together, and
 * shuts them down in order. `startBroker` is what `ferry server` calls.
 *
 * Shutdown order (SIGTERM/SIGINT): stop listening → refuse new requests (ShuttingDown) → shards
 * finish their turn, answer long polls, close RocksDB and exit → the answers reach the clients →
 * client sockets close with 1001.
 */
import pino, { type Logger } from 'pino';
import { ErrorCodes } from '../protocol/errors.js';
import type { DeliveredMessage } from '../protocol/ops.js';
import { BrokerMetrics } from '../transport/metrics.js';
import { queueOf, type ValidRequest } from '../protocol/validate.js';
import { FerryServer, type HttpRoute } from '../transport/server.js';
import type { RequestHandler } from '../transport/session.js';
import { SqsBackend } from '../transport/sqs/backend.js';
import { SqsMetadataStore } from '../transport/sqs/metadata.js';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION } from '../transport/sqs/queue-url.js';
import { SqsService, sqsBodyLimit } from '../transport/sqs/service.js';
import type { BrokerConfig } from './config.js';
import { openDataDir } from './node-meta.js';
import { Router, type SessionSink } from './router.js';
import type { ClusterNode } from './cluster/cluster-node.js';
import { ShardPool, type Answer } from './shard-pool.js';

export interface Broker {
  readonly host: string;
  readonly port: number;
  readonly shards: number;
  close(): Promise<void>;
}

/**
 * Bodies a shard keeps in memory, their overhead counted (ports.ts BodyCache); the rest are read
 * from RocksDB on delivery. 32 MiB: about 110,000 queued messages of 256 bytes a shard (packed in
 * their queue's body queue, body-queue.ts), enough for consumers that keep up; a backlog beyond it
 * costs about a byte a message (backlog.ts).
 */
const BODY_CACHE_BYTES_PER_SHARD = 32 * 1024 * 1024;

export async function startBroker(config: BrokerConfig, logger?: Logger): Promise<Broker> {
  const log = logger ?? pino({ level: config.logLevel, base: { service: 'ferry' } });
  const meta = await openDataDir(config.dataDir, config.shards);
  if (meta.shards !== config.shards) {
    log.warn({ requested: config.shards, stored: meta.shards }, 'data directory was created with another shard count; keeping it');
  }

  let server: FerryServer | undefined;
  let shuttingDown = false;
  const sessions: SessionSink = {
    push: (session: number, sub: number, messages: DeliveredMessage[]) => server?.session(session)?.push(sub, messages),
    pushEncoded: (session, sub, messages) => server?.session(session)?.push(sub, messages),
    subEnd: (session, sub, error) => server?.session(session)?.subEnd(sub, error),
    pushed: (queue, count) => metrics.pushed(queue, count),
  };
  // Cluster mode (--cluster-etcd): the cluster node routes every request and owns placement;
  // without it nothing below differs from the single-node broker.
  // Loaded only in cluster mode: a single node never pays for the etcd client.
  const cluster: ClusterNode | undefined = config.cluster === undefined
    ? undefined
    : new (await import('./cluster/cluster-node.js')).ClusterNode({
      settings: config.cluster, maxBodyBytes: config.maxMessageBytes, log, sessions, unroutableQueue: config.unroutableQueue,
    });
  // In cluster mode the cluster node keeps unroutable sends (the queue may be led by another node).
  const router = cluster === undefined
    ? new Router(sessions, { unroutableQueue: config.unroutableQueue })
    : new Router(cluster.routerSink, { cluster: cluster.routerOptions });
  const pool = new ShardPool({
    dataDir: config.dataDir, shards: meta.shards, bodyCacheBytes: BODY_CACHE_BYTES_PER_SHARD, replicated: cluster !== undefined,
  }, log, cluster?.poolEvents ?? router);
  router.attach(pool);
  cluster?.attach(router, pool);
  const metrics = new BrokerMetrics(() => pool.stats());

  const handler: RequestHandler = {
    dispatch: cluster === undefined
      ? (session: number, req: ValidRequest, done: (a: Answer) => void) => router.dispatch(session, req, done)
      : (session: number, req: ValidRequest, done: (a: Answer) => void) => cluster.dispatch(session, req, done),
    answered: (op, queue, answer, startedAt) => metrics.answered(op, queue, answer, startedAt),
    maxBodyBytes: config.maxMessageBytes,
    get shuttingDown() {
      return shuttingDown;
    },
  };

  const closeSession = cluster === undefined ? (session: number) => router.closeSession(session) : (session: number) => cluster.closeSession(session);

  const text = 'text/plain; charset=utf-8';
  const get: Record<string, HttpRoute> = {
    '/healthz': (reply) => reply('200 OK', text, 'ok\n'),
    '/readyz': (reply) => (pool.allUp && !shuttingDown ? reply('200 OK', text, 'ready\n') : reply('503 Service Unavailable', text, 'not ready\n')),
    '/metrics': (reply) => {
      metrics.registry.metrics().then(
        (body) => reply('200 OK', metrics.registry.contentType, body),
        (err: unknown) => reply('500 Internal Server Error', text, `${String(err)}\n`),
      );
    },
  };
  if (cluster !== undefined) {
    get['/cluster'] = (reply) => {
      cluster.status().then(
        (status) => reply('200 OK', 'application/json', JSON.stringify(status)),
        (err: unknown) => reply('500 Internal Server Error', text, `${String(err)}\n`),
      );
    };
  }
  const post: Record<string, HttpRoute> = {};
  if (config.faultInjection) {
    post['/admin/shards/:shard/crash'] = (reply, { path }) => {
      const shard = Number(path.split('/')[3]);
      if (!Number.isInteger(shard) || !pool.crash(shard)) return reply('404 Not Found', text, `no running shard ${path.split('/')[3]}\n`);
      log.warn({ shard }, 'fault injection: crashing shard worker');
      reply('202 Accepted', text, 'crashing\n');
    };
  }

  const sqsMeta = await SqsMetadataStore.open(config.dataDir);
  const sqs = new SqsService({
    backend: new SqsBackend({
      dispatch: (session, req, done) => {
        const startedAt = performance.now();
        const { op } = req;
        const queue = queueOf(req);
        handler.dispatch(session, req, (answer) => {
          metrics.answered(op, queue, answer, startedAt);
          done(answer);
        });
      },
      closeSession: (session) => closeSession(session),
      maxBodyBytes: config.maxMessageBytes,
      get shuttingDown() {
        return shuttingDown;
      },
    }),
    meta: sqsMeta,
    id: { accountId: DEFAULT_ACCOUNT_ID, region: DEFAULT_REGION },
    credentials: config.sqsCredentials.length > 0 ? config.sqsCredentials : undefined,
    maxBodyBytes: sqsBodyLimit(config.maxMessageBytes),
    defaultHost: () => `${config.host}:${server?.port ?? config.port}`,
    log,
  });

  if (config.sqsCredentials.length === 0 && !isLoopback(config.host)) {
    log.warn({ host: config.host }, 'the SQS API accepts unsigned requests on a non-loopback address; set --sqs-credentials to check signatures');
  }

  try {
    await pool.start();
  } catch (err) {
    // A shard that cannot start (e.g. its RocksDB directory is locked by another broker) fails the
    // start. Stop the others and the restart timers, or this process would retry forever instead
    // of exiting with the error.
    await pool.close();
    throw err;
  }
  server = new FerryServer({
    handler,
    sessionClosed: closeSession,
    sessionCountChanged: (delta) => metrics.connections.inc(delta),
    get,
    post,
    ...(cluster === undefined ? {} : { peer: cluster.peerServer }),
    services: { '/': sqs, '/:account/:queue': sqs },
  });
  let port: number;
  try {
    port = await server.listen(config.host, config.port);
    await cluster?.start(config.host, port);
  } catch (err) {
    server.stopListening();
    await cluster?.close();
    await pool.close();
    throw err;
  }
  log.info({
    url: `ws://${config.host}:${port}/ws`, http: `http://${config.host}:${port}`, sqs: `http://${config.host}:${port}/`, sqsSigned: config.sqsCredentials.length > 0,
    shards: meta.shards, dataDir: config.dataDir, queues: router.queueCount,
    ...(config.cluster === undefined ? {} : { node: config.cluster.nodeId }),
  }, 'ferry ready');

  let closing: Promise<void> | undefined;
  return {
    host: config.host,
    port,
    shards: meta.shards,
    close(): Promise<void> {
      closing ??= (async () => {
        log.info('ferry shutting down');
        shuttingDown = true;
        server!.stopListening();
        await cluster?.close();
        router.close();
        await pool.close();
        await sqsMeta.close();
        server!.closeSessions('server shutting down');
        log.info({ code: ErrorCodes.ShuttingDown }, 'ferry stopped');
        log.flush?.();
      })();
      return closing;
    },
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
