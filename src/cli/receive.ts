/** `ferry receive NAME`: one receive call; prints what it got. */
import type { Command } from 'commander';
import type { DeliveredMessage } from '../client/index.js';
import { Limits } from '../protocol/limits.js';
import { action, clientSettings, intFlag, queueName, secondsFlag, utf8, withClient, withClientOptions, type ClientFlags } from './common.js';

interface ReceiveFlags extends ClientFlags {
  max?: string;
  wait?: string;
  visibility?: string;
  delete?: boolean;
  group?: string;
  json?: boolean;
}

/** One output line for a message: its body, or a JSON object with --json. */
export function formatMessage(m: DeliveredMessage, json: boolean): string {
  if (!json) return `${utf8(m.body)}\n`;
  return `${JSON.stringify({ messageId: m.messageId, receipt: m.receipt, receiveCount: m.receiveCount, body: utf8(m.body) })}\n`;
}

export function registerReceive(program: Command): void {
  withClientOptions(
    program
      .command('receive <name>')
      .description('receive messages and print their bodies, one per line')
      .option('--max <n>', `messages at most, 1..${Limits.maxReceive} (default 1)`)
      .option('--wait <seconds>', `long-poll wait, 0..${Limits.maxWaitMs / 1000}`)
      .option('--visibility <seconds>', 'lease length, 0..43200')
      .option('--group <name>', 'stream-mode queues: the consumer group to read for')
      .option('--delete', 'delete the messages received (stream: acknowledge for the group)')
      .option('--json', 'print JSON lines: messageId, receipt, receiveCount, body'),
  ).action(
    action(async (rawName: string, flags: ReceiveFlags) => {
      const name = queueName(rawName);
      const max = intFlag('--max', flags.max, 1, Limits.maxReceive);
      const waitMs = secondsFlag('--wait', flags.wait, 0, Limits.maxWaitMs / 1000);
      const visibilityMs = secondsFlag('--visibility', flags.visibility, 0, Limits.maxVisibilityMs / 1000);
      const settings = clientSettings(flags);
      await withClient(settings, async (client) => {
        const queue = client.queue(name);
        const opts: { max?: number; waitMs?: number; visibilityMs?: number; group?: string } = {};
        if (flags.group !== undefined) opts.group = flags.group;
        if (max !== undefined) opts.max = max;
        if (waitMs !== undefined) opts.waitMs = waitMs;
        if (visibilityMs !== undefined) opts.visibilityMs = visibilityMs;
        const messages = await queue.receive(opts);
        process.stdout.write(messages.map((m) => formatMessage(m, flags.json === true)).join(''));
        if (flags.delete && messages.length > 0) {
          const results = await queue.deleteBatch(messages.map((m) => m.receipt));
          results.forEach((r, i) => {
            if ('error' in r) {
              process.stderr.write(`ferry: delete ${messages[i]!.messageId}: ${r.error.code}: ${r.error.message}\n`);
              process.exitCode = 1;
            }
          });
        }
      });
    }),
  );
}
