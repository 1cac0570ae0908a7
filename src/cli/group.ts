/** `ferry group create|delete|list|seek`: consumer groups of stream-mode queues. */
import type { Command } from 'commander';
import type { StreamGroupInfo, StreamPosition } from '../protocol/ops.js';
import { action, clientSettings, queueName, UsageError, withClient, withClientOptions, type ClientFlags } from './common.js';

/** `earliest`, `latest`, `offset:N` or `time:MS|ISO-8601`. */
export function positionFlag(flag: string, raw: string): StreamPosition {
  if (raw === 'earliest' || raw === 'latest') return raw;
  const offset = /^offset:(\d+)$/.exec(raw);
  if (offset !== null) return { offset: Number(offset[1]) };
  const time = /^time:(.+)$/.exec(raw);
  if (time !== null) {
    const ms = /^\d+$/.test(time[1]!) ? Number(time[1]) : Date.parse(time[1]!);
    if (Number.isSafeInteger(ms) && ms >= 0) return { timestamp: ms };
  }
  throw new UsageError(`${flag} must be earliest, latest, offset:N or time:MS|ISO-8601, got ${JSON.stringify(raw)}`);
}

function line(g: StreamGroupInfo): string {
  return `${g.group}  committed ${g.committed}  position ${g.position}  leased ${g.leased}  lag ${g.lag}\n`;
}

export function registerGroup(program: Command): void {
  const group = program.command('group').description('consumer groups of stream-mode queues (create, delete, list, seek)');

  withClientOptions(group.command('create <queue> <group>').description('create a consumer group').option('--start <pos>', 'earliest | latest | offset:N | time:MS|ISO (default latest)')).action(
    action(async (rawQueue: string, name: string, flags: ClientFlags & { start?: string }) => {
      const queue = queueName(rawQueue);
      const start = flags.start === undefined ? undefined : positionFlag('--start', flags.start);
      await withClient(clientSettings(flags), async (client) => {
        process.stdout.write(line(await client.createGroup(queue, name, start)));
      });
    }),
  );

  withClientOptions(group.command('delete <queue> <group>').description('delete a consumer group')).action(
    action(async (rawQueue: string, name: string, flags: ClientFlags) => {
      const queue = queueName(rawQueue);
      await withClient(clientSettings(flags), async (client) => {
        await client.deleteGroup(queue, name);
        process.stdout.write(`deleted ${name}\n`);
      });
    }),
  );

  withClientOptions(group.command('list <queue>').description('list consumer groups with their positions').option('--json', 'print JSON')).action(
    action(async (rawQueue: string, flags: ClientFlags & { json?: boolean }) => {
      const queue = queueName(rawQueue);
      await withClient(clientSettings(flags), async (client) => {
        const groups = await client.listGroups(queue);
        process.stdout.write(flags.json ? `${JSON.stringify(groups)}\n` : groups.map(line).join(''));
      });
    }),
  );

  withClientOptions(group.command('seek <queue> <group> <pos>').description('move a group to earliest | latest | offset:N | time:MS|ISO (replay)')).action(
    action(async (rawQueue: string, name: string, rawPos: string, flags: ClientFlags) => {
      const queue = queueName(rawQueue);
      const to = positionFlag('<pos>', rawPos);
      await withClient(clientSettings(flags), async (client) => {
        process.stdout.write(line(await client.seek(queue, name, to)));
      });
    }),
  );
}
