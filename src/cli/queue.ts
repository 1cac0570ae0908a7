/** `ferry queue create|delete|list|stats|purge`. */
import type { Command } from 'commander';
import type { QueueAttributes } from '../protocol/ops.js';
import { Limits } from '../protocol/limits.js';
import { action, clientSettings, intFlag, queueName, secondsFlag, withClient, withClientOptions, type ClientFlags } from './common.js';

interface CreateFlags extends ClientFlags {
  visibility?: string;
  maxMessageBytes?: string;
  delay?: string;
  receiveWait?: string;
}

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('create, delete, list, inspect and purge queues');

  withClientOptions(
    queue
      .command('create <name>')
      .description('create a queue (no error if it exists with the same attributes)')
      .option('--visibility <seconds>', 'visibility timeout, 0..43200 (default 30)')
      .option('--max-message-bytes <bytes>', `largest body, 1..${Limits.maxMessageBytesCeiling} (default ${Limits.defaultMaxMessageBytes})`)
      .option('--delay <seconds>', 'default delivery delay, 0..900 (default 0)')
      .option('--receive-wait <seconds>', 'default long-poll wait of a receive, 0..20 (default 0)'),
  ).action(
    action(async (rawName: string, flags: CreateFlags) => {
      const name = queueName(rawName);
      const attributes: Partial<QueueAttributes> = {};
      const visibilityMs = secondsFlag('--visibility', flags.visibility, 0, Limits.maxVisibilityMs / 1000);
      const maxMessageBytes = intFlag('--max-message-bytes', flags.maxMessageBytes, 1, Limits.maxMessageBytesCeiling);
      const delayMs = secondsFlag('--delay', flags.delay, 0, Limits.maxDelayMs / 1000);
      const receiveWaitMs = secondsFlag('--receive-wait', flags.receiveWait, 0, Limits.maxWaitMs / 1000);
      if (visibilityMs !== undefined) attributes.visibilityMs = visibilityMs;
      if (maxMessageBytes !== undefined) attributes.maxMessageBytes = maxMessageBytes;
      if (delayMs !== undefined) attributes.delayMs = delayMs;
      if (receiveWaitMs !== undefined) attributes.receiveWaitMs = receiveWaitMs;
      const settings = clientSettings(flags);
      await withClient(settings, async (client) => {
        const res = await client.createQueue(name, Object.keys(attributes).length > 0 ? attributes : undefined);
        process.stdout.write(`${res.created ? 'created' : 'exists'} ${res.queue}\n`);
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
          ['visible', String(s.visible)],
          ['leased', String(s.leased)],
          ['delayed', String(s.delayed)],
          ['oldestAge', `${(s.oldestAgeMs / 1000).toFixed(1)} s`],
          ['bytes', String(s.bytes)],
        ];
        const width = Math.max(...rows.map(([k]) => k.length)) + 2;
        process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}${v}\n`).join(''));
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
