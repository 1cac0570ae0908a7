/**
 * Broker configuration: what `ferry server` flags and FERRY_* environment variables set.
 * `resolveBrokerConfig` validates at once (undici style: constructors validate their options)
 * and throws a ConfigError naming the setting at fault.
 */
import { availableParallelism } from 'node:os';
import { Limits, isValidQueueName } from '../protocol/limits.js';
import { parseCredentials, type SqsCredential } from '../transport/sqs/sigv4.js';
import { DEFAULT_REBALANCE, type RebalanceSettings } from './cluster/rebalancer.js';

export interface BrokerConfig {
  /** Interface to listen on. Default 127.0.0.1. */
  host: string;
  /** TCP port for WebSocket (/ws) and HTTP. Default 7700. 0 picks a free port. */
  port: number;
  /** Data directory: one RocksDB directory per shard under it. Default ./data. */
  dataDir: string;
  /** Shard worker threads. Default: available cores. Fixed when the data directory is created. */
  shards: number;
  /** Broker-wide ceiling on maxMessageBytes (a queue may set less). Default 256 KiB, at most 1 MiB. */
  maxMessageBytes: number;
  /** Queue that keeps messages sent to queues that do not exist (dead letters, reason noSuchQueue). Off by default. */
  unroutableQueue: string | undefined;
  /** Test hook: allows POST /admin/shards/:n/crash. Off by default. */
  faultInjection: boolean;
  /**
   * Access keys the SQS API checks SigV4 signatures against. Empty: requests are accepted unsigned
   * (the default, meant for loopback and trusted networks).
   */
  sqsCredentials: SqsCredential[];
  /** pino log level. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Cluster mode (docs/cluster.md); undefined = the single-node broker. */
  cluster: ClusterSettings | undefined;
}

export interface ClusterSettings {
  /** etcd client URLs (`--cluster-etcd`, comma-separated). */
  etcd: string[];
  /** This node's id in the cluster, 1–64 of [A-Za-z0-9_-] (`--node-id`). */
  nodeId: string;
  /** ws://host:port other nodes and clients reach this node at; default ws://HOST:PORT. */
  advertiseUrl: string | undefined;
  /** What the supervisor moves by itself (`--rebalance`, `--rebalance-min-rate`; rebalancer.ts). */
  rebalance: RebalanceSettings;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'InvalidConfig';
  constructor(readonly setting: string, message: string) {
    super(`${setting}: ${message}`);
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function intInRange(setting: string, raw: unknown, min: number, max: number): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(setting, `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Raw settings: from flags, env or code. Strings are parsed; anything missing takes its default. */
export type RawBrokerConfig = { [K in Exclude<keyof BrokerConfig, 'cluster'>]?: BrokerConfig[K] | string } & {
  clusterEtcd?: string;
  nodeId?: string;
  advertiseUrl?: string;
  /** `on` | `off` (cluster mode only). */
  rebalance?: string;
  rebalanceMinRate?: string | number;
};

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

function resolveCluster(raw: RawBrokerConfig): ClusterSettings | undefined {
  if (raw.clusterEtcd === undefined || raw.clusterEtcd === '') {
    if (raw.nodeId !== undefined) throw new ConfigError('nodeId', 'is only valid with clusterEtcd (--cluster-etcd)');
    if (raw.advertiseUrl !== undefined) throw new ConfigError('advertiseUrl', 'is only valid with clusterEtcd (--cluster-etcd)');
    if (raw.rebalance !== undefined) throw new ConfigError('rebalance', 'is only valid with clusterEtcd (--cluster-etcd)');
    if (raw.rebalanceMinRate !== undefined) throw new ConfigError('rebalanceMinRate', 'is only valid with clusterEtcd (--cluster-etcd)');
    return undefined;
  }
  const etcd = raw.clusterEtcd.split(',').map((u) => u.trim());
  for (const u of etcd) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new ConfigError('clusterEtcd', `must be a comma-separated list of http(s)://host:port URLs, got ${JSON.stringify(u)}`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.port === '') {
      throw new ConfigError('clusterEtcd', `must be a comma-separated list of http(s)://host:port URLs, got ${JSON.stringify(u)}`);
    }
  }
  const nodeId = raw.nodeId;
  if (nodeId === undefined) throw new ConfigError('nodeId', 'is required in cluster mode (--node-id)');
  if (!NODE_ID.test(nodeId)) throw new ConfigError('nodeId', `must be 1-64 of [A-Za-z0-9_-], got ${JSON.stringify(nodeId)}`);
  let advertiseUrl: string | undefined;
  if (raw.advertiseUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(raw.advertiseUrl);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'ws:' && url.protocol !== 'wss:') || url.port === '' || (url.pathname !== '/' && url.pathname !== '')) {
      throw new ConfigError('advertiseUrl', `must be ws(s)://host:port with no path, got ${JSON.stringify(raw.advertiseUrl)}`);
    }
    advertiseUrl = `${url.protocol}//${url.host}`;
  }
  if (raw.rebalance !== undefined && raw.rebalance !== 'on' && raw.rebalance !== 'off') {
    throw new ConfigError('rebalance', `must be on or off, got ${JSON.stringify(raw.rebalance)}`);
  }
  const rebalance: RebalanceSettings = {
    ...DEFAULT_REBALANCE,
    enabled: raw.rebalance !== 'off',
    minRate: intInRange('rebalanceMinRate', raw.rebalanceMinRate ?? DEFAULT_REBALANCE.minRate, 1, 10_000_000),
  };
  return { etcd, nodeId, advertiseUrl, rebalance };
}

export function resolveBrokerConfig(raw: RawBrokerConfig = {}): BrokerConfig {
  const host = raw.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0) throw new ConfigError('host', 'must be a non-empty host name or address');
  const dataDir = raw.dataDir ?? './data';
  if (typeof dataDir !== 'string' || dataDir.length === 0) throw new ConfigError('dataDir', 'must be a non-empty path');
  const logLevel = raw.logLevel ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(String(logLevel))) {
    throw new ConfigError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const faultInjection = raw.faultInjection ?? false;
  let sqsCredentials: SqsCredential[] = [];
  const rawCredentials = raw.sqsCredentials;
  if (typeof rawCredentials === 'string') {
    try {
      sqsCredentials = parseCredentials(rawCredentials);
    } catch (err) {
      throw new ConfigError('sqsCredentials', `${(err as Error).message} (format KEY:SECRET[,KEY:SECRET…])`);
    }
  } else if (Array.isArray(rawCredentials)) {
    sqsCredentials = rawCredentials;
  }
  const unroutableQueue = raw.unroutableQueue === undefined || raw.unroutableQueue === '' ? undefined : raw.unroutableQueue;
  if (unroutableQueue !== undefined && !isValidQueueName(unroutableQueue)) {
    throw new ConfigError('unroutableQueue', `must be a valid queue name, got ${JSON.stringify(unroutableQueue)}`);
  }
  const cluster = resolveCluster(raw);
  // The unroutable queue is kept by the node that receives the send; in cluster mode that node may
  // not lead it, and moves between queues are not routed across nodes (docs/cluster.md, limits).
  return {
    host,
    port: intInRange('port', raw.port ?? 7700, 0, 65535),
    dataDir,
    shards: intInRange('shards', raw.shards ?? availableParallelism(), 1, 64),
    maxMessageBytes: intInRange('maxMessageBytes', raw.maxMessageBytes ?? Limits.defaultMaxMessageBytes, 1, Limits.maxMessageBytesCeiling),
    unroutableQueue,
    faultInjection: faultInjection === true || faultInjection === 'true' || faultInjection === '1',
    sqsCredentials,
    logLevel: logLevel as BrokerConfig['logLevel'],
    cluster,
  };
}

/**
 * Reads FERRY_HOST, FERRY_PORT, FERRY_DATA_DIR, FERRY_SHARDS, FERRY_MAX_MESSAGE_BYTES, FERRY_UNROUTABLE_QUEUE, FERRY_FAULT_INJECTION,
 * FERRY_SQS_CREDENTIALS, FERRY_LOG_LEVEL, FERRY_CLUSTER_ETCD, FERRY_NODE_ID, FERRY_ADVERTISE_URL, FERRY_REBALANCE,
 * FERRY_REBALANCE_MIN_RATE.
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): RawBrokerConfig {
  const out: RawBrokerConfig = {};
  if (env.FERRY_HOST !== undefined) out.host = env.FERRY_HOST;
  if (env.FERRY_PORT !== undefined) out.port = env.FERRY_PORT;
  if (env.FERRY_DATA_DIR !== undefined) out.dataDir = env.FERRY_DATA_DIR;
  if (env.FERRY_SHARDS !== undefined) out.shards = env.FERRY_SHARDS;
  if (env.FERRY_MAX_MESSAGE_BYTES !== undefined) out.maxMessageBytes = env.FERRY_MAX_MESSAGE_BYTES;
  if (env.FERRY_UNROUTABLE_QUEUE !== undefined) out.unroutableQueue = env.FERRY_UNROUTABLE_QUEUE;
  if (env.FERRY_FAULT_INJECTION !== undefined) out.faultInjection = env.FERRY_FAULT_INJECTION;
  if (env.FERRY_SQS_CREDENTIALS !== undefined) out.sqsCredentials = env.FERRY_SQS_CREDENTIALS;
  if (env.FERRY_LOG_LEVEL !== undefined) out.logLevel = env.FERRY_LOG_LEVEL as BrokerConfig['logLevel'];
  if (env.FERRY_CLUSTER_ETCD !== undefined) out.clusterEtcd = env.FERRY_CLUSTER_ETCD;
  if (env.FERRY_NODE_ID !== undefined) out.nodeId = env.FERRY_NODE_ID;
  if (env.FERRY_ADVERTISE_URL !== undefined) out.advertiseUrl = env.FERRY_ADVERTISE_URL;
  if (env.FERRY_REBALANCE !== undefined) out.rebalance = env.FERRY_REBALANCE;
  if (env.FERRY_REBALANCE_MIN_RATE !== undefined) out.rebalanceMinRate = env.FERRY_REBALANCE_MIN_RATE;
  return out;
}
