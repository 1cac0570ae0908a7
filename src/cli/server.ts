/** `ferry server`: runs a broker until SIGTERM/SIGINT. */
import type { Command } from 'commander';
import { ConfigError, configFromEnv, resolveBrokerConfig, type BrokerConfig, type RawBrokerConfig } from '../supervisor/config.js';
import { action, CliError, UsageError } from './common.js';

interface ServerFlags {
  host?: string;
  port?: string;
  dataDir?: string;
  shards?: string;
  maxMessageBytes?: string;
  logLevel?: string;
  faultInjection?: boolean;
  clusterEtcd?: string;
  nodeId?: string;
  advertiseUrl?: string;
  rebalance?: string;
  rebalanceMinRate?: string;
  sqsCredentials?: string;
  unroutableQueue?: string;
}

/** Env first, flags over it; validated by resolveBrokerConfig (a ConfigError is a usage error). */
export function serverConfig(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  const raw: RawBrokerConfig = configFromEnv(env);
  if (flags.host !== undefined) raw.host = flags.host;
  if (flags.port !== undefined) raw.port = flags.port;
  if (flags.dataDir !== undefined) raw.dataDir = flags.dataDir;
  if (flags.shards !== undefined) raw.shards = flags.shards;
  if (flags.maxMessageBytes !== undefined) raw.maxMessageBytes = flags.maxMessageBytes;
  if (flags.logLevel !== undefined) raw.logLevel = flags.logLevel as BrokerConfig['logLevel'];
  if (flags.faultInjection === true) raw.faultInjection = true;
  if (flags.clusterEtcd !== undefined) raw.clusterEtcd = flags.clusterEtcd;
  if (flags.nodeId !== undefined) raw.nodeId = flags.nodeId;
  if (flags.advertiseUrl !== undefined) raw.advertiseUrl = flags.advertiseUrl;
  if (flags.rebalance !== undefined) raw.rebalance = flags.rebalance;
  if (flags.rebalanceMinRate !== undefined) raw.rebalanceMinRate = flags.rebalanceMinRate;
  if (flags.sqsCredentials !== undefined) raw.sqsCredentials = flags.sqsCredentials;
  if (flags.unroutableQueue !== undefined) raw.unroutableQueue = flags.unroutableQueue;
  try {
    return resolveBrokerConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

export function registerServer(program: Command): void {
  program
    .command('server')
    .description('run a Ferry broker (settings also from FERRY_HOST, FERRY_PORT, FERRY_DATA_DIR, ...)')
    .option('--host <host>', 'interface to listen on (FERRY_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port for WebSocket and HTTP, 0 picks one (FERRY_PORT, default 7700)')
    .option('--data-dir <dir>', 'data directory (FERRY_DATA_DIR, default ./data)')
    .option('--shards <n>', 'shard worker threads (FERRY_SHARDS, default: cores)')
    .option('--max-message-bytes <bytes>', 'broker-wide body size ceiling (FERRY_MAX_MESSAGE_BYTES, default 262144)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (FERRY_LOG_LEVEL, default info)')
    .option('--sqs-credentials <list>', 'KEY:SECRET[,KEY:SECRET...]: check SigV4 signatures on the SQS API against these (FERRY_SQS_CREDENTIALS; default: unsigned accepted)')
    .option('--unroutable-queue <name>', 'keep messages sent to missing queues in this queue (FERRY_UNROUTABLE_QUEUE, default off)')
    .option('--fault-injection', 'enable test fault hooks (FERRY_FAULT_INJECTION)')
    .option('--cluster-etcd <urls>', 'join a cluster coordinated by these etcd URLs, comma-separated (FERRY_CLUSTER_ETCD)')
    .option('--node-id <id>', 'this node\'s id in the cluster, required with --cluster-etcd (FERRY_NODE_ID)')
    .option('--advertise-url <url>', 'ws://host:port other nodes reach this node at (FERRY_ADVERTISE_URL, default ws://HOST:PORT)')
    .option('--rebalance <on|off>', 'cluster supervisor moves queues off hot nodes and onto new ones (FERRY_REBALANCE, default on)')
    .option('--rebalance-min-rate <n>', 'load (messages/s + KiB/s) below which no node counts as hot (FERRY_REBALANCE_MIN_RATE, default 1000)')
    .action(
      action(async (flags: ServerFlags) => {
        const config = serverConfig(flags);
        // Loaded only here: client commands must not pay for the broker's native modules.
        const { startBroker } = await import('../supervisor/broker.js');
        let broker: Awaited<ReturnType<typeof startBroker>>;
        try {
          broker = await startBroker(config);
        } catch (err) {
          throw new CliError(`cannot start the broker: ${err instanceof Error ? err.message : String(err)}`, 1);
        }
        let stopping = false;
        const stop = (signal: NodeJS.Signals): void => {
          if (stopping) {
            process.stderr.write(`ferry: ${signal} again, exiting now\n`);
            process.exit(1);
          }
          stopping = true;
          broker.close().then(
            () => process.exit(0),
            (err: unknown) => {
              process.stderr.write(`ferry: error while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
              process.exit(1);
            },
          );
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      }),
    );
}
