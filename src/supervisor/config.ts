/**
 * Broker configuration: what `ferry server` flags and FERRY_* environment variables set.
 * `resolveBrokerConfig` validates at once (undici style: constructors validate their options)
 * and throws a ConfigError naming the setting at fault.
 */
import { availableParallelism } from 'node:os';
import { Limits, isValidQueueName } from '../protocol/limits.js';
import { parseCredentials, type SqsCredential } from '../transport/sqs/sigv4.js';

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
export type RawBrokerConfig = { [K in keyof BrokerConfig]?: BrokerConfig[K] | string };

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
  };
}

/** Reads FERRY_HOST, FERRY_PORT, FERRY_DATA_DIR, FERRY_SHARDS, FERRY_MAX_MESSAGE_BYTES, FERRY_UNROUTABLE_QUEUE, FERRY_FAULT_INJECTION, FERRY_SQS_CREDENTIALS, FERRY_LOG_LEVEL. */
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
  return out;
}
