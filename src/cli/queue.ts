/** `ferry queue create|delete|list|stats|purge`. */
import type { Command } from 'commander';
import type { CreateQueueOptions } from '../client/client.js';
import { ACKS_POLICIES, ORDERINGS, OVERFLOW_POLICIES, QUEUE_MODES, type QueueAttributes } from '../protocol/ops.js';
import { PARTITIONS_CEILING, SCALE_METRICS, type Partitioning } from '../protocol/partitioning.js';
import { Limits } from '../protocol/limits.js';
import { action, clientSettings, intFlag, nodeIdArg, queueName, secondsFlag, UsageError, withClient, withClientOptions, type ClientFlags } from './common.js';

interface AttributeFlags extends ClientFlags {
  visibility?: string;
  maxMessageBytes?: string;
  delay?: string;
  receiveWait?: string;
  retention?: string;
  deadLetter?: string;
  maxReceives?: string;
  maxLength?: string;
  maxBytes?: string;
  overflow?: string;
  ordering?: string;
  dedupWindow?: string;
  contentDedup?: boolean;
  orderingWindow?: string;
  mode?: string;
}

/** The attribute flags shared by `queue create` and `queue set`. */
function withAttributeFlags(cmd: Command): Command {
  return cmd
    .option('--visibility <seconds>', 'visibility timeout, 0..43200 (default 30)')
    .option('--max-message-bytes <bytes>', `largest body, 1..${Limits.maxMessageBytesCeiling} (default ${Limits.defaultMaxMessageBytes})`)
    .option('--delay <seconds>', 'default delivery delay, 0..900 (default 0)')
    .option('--receive-wait <seconds>', 'default long-poll wait of a receive, 0..20 (default 0)')
    .option('--retention <seconds>', 'keep messages at most this long, 60..1209600 (default 345600 = 4 days)')
    .option('--dead-letter <queue>', 'dead-letter queue (needs --max-receives)')
    .option('--max-receives <n>', `deliveries before a message is dead-lettered, 1..${Limits.maxReceivesCeiling}`)
    .option('--no-dead-letter', 'remove the dead-letter queue (queue set)')
    .option('--max-length <n>', 'most messages the queue holds, 0 = no limit (default 0)')
    .option('--max-bytes <n>', 'most body bytes the queue holds, 0 = no limit (default 0)')
    .option('--overflow <policy>', 'when full: reject | dropHead | deadLetterNew (default reject)')
    .option('--ordering <ordering>', 'relaxed | strict (default relaxed)')
    .option('--dedup-window <seconds>', 'dedup window, 0..86400 (default 0; 300 when strict)')
    .option('--content-dedup', 'deduplicate by body hash when a send gives no dedupId')
    .option('--ordering-window <ms>', `hold producer-timestamped messages this long, 0..${Limits.maxOrderingWindowMs} (default 0)`)
    .option('--mode <mode>', 'queue | stream (create only; default queue)');
}

/** Cluster-mode flags of `queue create` only: fixed when the queue is created. */
interface CreateFlags extends AttributeFlags {
  acks?: string;
  partitions?: string;
  autoscale?: boolean;
  minPartitions?: string;
  maxPartitions?: string;
  scaleBy?: string;
  scaleLimit?: string;
}

function withCreateFlags(cmd: Command): Command {
  return cmd
    .option('--acks <policy>', 'cluster: leader | quorum | all (default quorum)')
    .option('--partitions <n>', `cluster: partitions at creation, 1..${PARTITIONS_CEILING} (default 1)`)
    .option('--autoscale', 'cluster: the supervisor adds and retires partitions by load')
    .option('--min-partitions <n>', 'cluster: autoscale keeps at least this many partitions')
    .option('--max-partitions <n>', 'cluster: autoscale keeps at most this many partitions')
    .option('--scale-by <metric>', 'cluster: backlog | rate, what --scale-limit measures')
    .option('--scale-limit <n>', "cluster: a partition's capacity (messages held, or sends/s); autoscale grows past 80% of it");
}

/** The cluster settings of `queue create`; the broker checks the rules across fields again. */
export function createOptionsFromFlags(flags: CreateFlags): CreateQueueOptions {
  const out: CreateQueueOptions = {};
  const acks = oneOfFlag('--acks', flags.acks, ACKS_POLICIES);
  if (acks !== undefined) out.acks = acks;
  const p: Partial<Partitioning> = {};
  const set = <K extends keyof Partitioning>(k: K, v: Partitioning[K] | undefined): void => {
    if (v !== undefined) p[k] = v;
  };
  set('partitions', intFlag('--partitions', flags.partitions, 1, PARTITIONS_CEILING));
  if (flags.autoscale === true) p.autoscale = true;
  set('minPartitions', intFlag('--min-partitions', flags.minPartitions, 1, PARTITIONS_CEILING));
  set('maxPartitions', intFlag('--max-partitions', flags.maxPartitions, 1, PARTITIONS_CEILING));
  set('limitBy', oneOfFlag('--scale-by', flags.scaleBy, SCALE_METRICS));
  set('limit', intFlag('--scale-limit', flags.scaleLimit, 1, Number.MAX_SAFE_INTEGER));
  if (Object.keys(p).length > 0) out.partitioning = p;
  return out;
}

function oneOfFlag<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}`);
  return raw as T;
}

/** Turns the flags into attributes; ranges are checked here for a clear usage error, and again by the broker. */
export function attributesFromFlags(flags: AttributeFlags): Partial<QueueAttributes> {
  const a: Partial<QueueAttributes> = {};
  const set = <K extends keyof QueueAttributes>(k: K, v: QueueAttributes[K] | undefined): void => {
    if (v !== undefined) a[k] = v;
  };
  set('visibilityMs', secondsFlag('--visibility', flags.visibility, 0, Limits.maxVisibilityMs / 1000));
  set('maxMessageBytes', intFlag('--max-message-bytes', flags.maxMessageBytes, 1, Limits.maxMessageBytesCeiling));
  set('delayMs', secondsFlag('--delay', flags.delay, 0, Limits.maxDelayMs / 1000));
  set('receiveWaitMs', secondsFlag('--receive-wait', flags.receiveWait, 0, Limits.maxWaitMs / 1000));
  set('retentionMs', secondsFlag('--retention', flags.retention, Limits.minRetentionMs / 1000, Limits.maxRetentionMs / 1000));
  const maxReceives = intFlag('--max-receives', flags.maxReceives, 1, Limits.maxReceivesCeiling);
  // commander turns --no-dead-letter into deadLetter: false.
  if ((flags.deadLetter as unknown) === false) {
    if (maxReceives !== undefined) throw new UsageError('--max-receives makes no sense with --no-dead-letter');
    a.deadLetter = null;
  } else if (flags.deadLetter !== undefined) {
    if (maxReceives === undefined) throw new UsageError('--dead-letter needs --max-receives');
    a.deadLetter = { queue: queueName(flags.deadLetter), maxReceives };
  } else if (maxReceives !== undefined) {
    throw new UsageError('--max-receives needs --dead-letter');
  }
  set('maxLength', intFlag('--max-length', flags.maxLength, 0, Limits.maxLengthCeiling));
  set('maxBytes', intFlag('--max-bytes', flags.maxBytes, 0, Limits.maxBytesCeiling));
  set('overflow', oneOfFlag('--overflow', flags.overflow, OVERFLOW_POLICIES));
  set('ordering', oneOfFlag('--ordering', flags.ordering, ORDERINGS));
  set('dedupWindowMs', secondsFlag('--dedup-window', flags.dedupWindow, 0, Limits.maxDedupWindowMs / 1000));
  if (flags.contentDedup === true) a.contentDedup = true;
  set('orderingWindowMs', intFlag('--ordering-window', flags.orderingWindow, 0, Limits.maxOrderingWindowMs));
  set('mode', oneOfFlag('--mode', flags.mode, QUEUE_MODES));
  return a;
}

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('create, delete, list, inspect and purge queues');

  withClientOptions(
    withCreateFlags(withAttributeFlags(queue.command('create <name>').description('create a queue (no error if it exists with the same attributes)'))),
  ).action(
    action(async (rawName: string, flags: CreateFlags) => {
      const name = queueName(rawName);
      const attributes = attributesFromFlags(flags);
      const options = createOptionsFromFlags(flags);
      const settings = clientSettings(flags);
      await withClient(settings, async (client) => {
        const res = await client.createQueue(name, Object.keys(attributes).length > 0 ? attributes : undefined, options);
        process.stdout.write(`${res.created ? 'created' : 'exists'} ${res.queue}\n`);
      });
    }),
  );

  withClientOptions(withAttributeFlags(queue.command('set <name>').description("change a queue's attributes"))).action(
    action(async (rawName: string, flags: AttributeFlags) => {
      const name = queueName(rawName);
      const attributes = attributesFromFlags(flags);
      if (Object.keys(attributes).length === 0) throw new UsageError('give at least one attribute flag (see --help)');
      await withClient(clientSettings(flags), async (client) => {
        await client.setQueueAttributes(name, attributes);
        process.stdout.write(`updated ${name}\n`);
      });
    }),
  );

  withClientOptions(queue.command('delete <name>').description('delete a queue and its messages')).action(
    action(async (rawName: string, flags: ClientFlags) => {
      const name = queueName(rawName);
      await withClient(clientSettings(flags), async (client) => {
        await client.deleteQueue(name);
        process.stdout.write(`deleted ${name}\n`);
      });
    }),
  );

  withClientOptions(
    queue
      .command('list')
      .description('list queue names (follows pages)')
      .option('--prefix <prefix>', 'only names starting with this')
      .option('--limit <n>', 'print at most this many names'),
  ).action(
    action(async (flags: ClientFlags & { prefix?: string; limit?: string }) => {
      const limit = intFlag('--limit', flags.limit, 1, 1_000_000);
      await withClient(clientSettings(flags), async (client) => {
        let printed = 0;
        const opts: { prefix?: string; pageSize?: number } = { pageSize: Math.min(limit ?? Limits.maxListLimit, Limits.maxListLimit) };
        if (flags.prefix !== undefined) opts.prefix = flags.prefix;
        for await (const name of client.iterateQueues(opts)) {
          process.stdout.write(`${name}\n`);
          if (limit !== undefined && ++printed >= limit) break;
        }
      });
    }),
  );

  withClientOptions(
    queue.command('stats <name>').description("show a queue's attributes and counts").option('--json', 'print JSON'),
  ).action(
    action(async (rawName: string, flags: ClientFlags & { json?: boolean }) => {
      const name = queueName(rawName);
      await withClient(clientSettings(flags), async (client) => {
        const res = await client.getQueueAttributes(name);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(res)}\n`);
          return;
        }
        const a = res.attributes;
        const s = res.stats;
        const rows: [string, string][] = [
          ['queue', res.queue],
          ['created', new Date(res.createdAt).toISOString()],
          ['visibility', `${a.visibilityMs / 1000} s`],
          ['maxMessageBytes', String(a.maxMessageBytes)],
          ['delay', `${a.delayMs / 1000} s`],
          ['receiveWait', `${a.receiveWaitMs / 1000} s`],
          ['retention', `${a.retentionMs / 1000} s`],
          ['deadLetter', a.deadLetter === null ? 'none' : `${a.deadLetter.queue} after ${a.deadLetter.maxReceives} receives`],
          ['maxLength', a.maxLength === 0 ? 'no limit' : String(a.maxLength)],
          ['maxBytes', a.maxBytes === 0 ? 'no limit' : String(a.maxBytes)],
          ['overflow', a.overflow],
          ['ordering', a.ordering],
          ['dedupWindow', `${a.dedupWindowMs / 1000} s`],
          ['contentDedup', String(a.contentDedup)],
          ['orderingWindow', `${a.orderingWindowMs} ms`],
          ['mode', a.mode],
          ['messages', String(s.messages)],
          ['visible', String(s.visible)],
          ['leased', String(s.leased)],
          ['delayed', String(s.delayed)],
          ['held', String(s.held)],
          ['oldestAge', `${(s.oldestAgeMs / 1000).toFixed(1)} s`],
          ['bytes', String(s.bytes)],
          ['expired', String(s.expired)],
          ['deadLettered', String(s.deadLettered)],
          ['dropped', String(s.dropped)],
          ['late', String(s.late)],
          ['duplicates', String(s.duplicates)],
        ];
        const width = Math.max(...rows.map(([k]) => k.length)) + 2;
        process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}${v}\n`).join(''));
      });
    }),
  );

  withClientOptions(
    queue.command('move <name>').description('cluster mode: move the queue\'s leadership (and copy) to another node').requiredOption('--to <node>', 'the node id that leads the queue afterwards'),
  ).action(
    action(async (rawName: string, flags: ClientFlags & { to: string }) => {
      const name = queueName(rawName);
      const to = nodeIdArg('--to', flags.to);
      await withClient(clientSettings(flags), async (client) => {
        const res = await client.moveQueue(name, to);
        process.stdout.write(`moved ${res.queue}: leader ${res.leader}, replicas ${res.replicas.join(',')}, epoch ${res.epoch}\n`);
      });
    }),
  );

  withClientOptions(queue.command('purge <name>').description('delete every message of a queue')).action(
    action(async (rawName: string, flags: ClientFlags) => {
      const name = queueName(rawName);
      await withClient(clientSettings(flags), async (client) => {
        const purged = await client.purgeQueue(name);
        process.stdout.write(`purged ${purged} message${purged === 1 ? '' : 's'} from ${name}\n`);
      });
    }),
  );
}
