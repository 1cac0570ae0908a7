/** `ferry tail NAME`: a push subscription that prints and acks every message until SIGINT. */
import type { Command } from 'commander';
import { connect } from '../client/index.js';
import { Limits } from '../protocol/limits.js';
import { action, clientSettings, CliError, intFlag, queueName, reportError, secondsFlag, withClientOptions, type ClientFlags } from './common.js';
import { formatMessage } from './receive.js';

interface TailFlags extends ClientFlags {
  json?: boolean;
  prefetch?: string;
  visibility?: string;
}

export function registerTail(program: Command): void {
  withClientOptions(
    program
      .command('tail <name>')
      .description('print (and delete) messages as they arrive, until Ctrl-C')
      .option('--json', 'print JSON lines: messageId, receipt, receiveCount, body')
      .option('--prefetch <n>', `messages in flight, 1..${Limits.maxCredit} (default 100)`)
      .option('--visibility <seconds>', 'lease length, 1..43200'),
  ).action(
    action(async (rawName: string, flags: TailFlags) => {
      const name = queueName(rawName);
      const prefetch = intFlag('--prefetch', flags.prefetch, 1, Limits.maxCredit) ?? 100;
      const visibilityMs = secondsFlag('--visibility', flags.visibility, 1, Limits.maxVisibilityMs / 1000);
      const settings = clientSettings(flags);
      let client;
      try {
        client = await connect(settings.urls, settings.timeoutMs === undefined ? {} : { requestTimeoutMs: settings.timeoutMs });
      } catch (err) {
        throw new CliError(err instanceof Error ? err.message : String(err), 1);
      }
      client.on('disconnected', (info) => process.stderr.write(`ferry: connection to ${info.url} lost (code ${info.code}), reconnecting\n`));
      client.on('connected', (url, reconnected) => {
        if (reconnected) process.stderr.write(`ferry: reconnected to ${url}\n`);
      });
      const json = flags.json === true;
      let consumer;
      try {
        consumer = await client.queue(name).consume(
          (m) => {
            process.stdout.write(formatMessage(m, json));
          },
          visibilityMs === undefined ? { prefetch } : { prefetch, visibilityMs },
        );
      } catch (err) {
        await client.close();
        throw err;
      }
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void consumer.close();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      try {
        await consumer.done;
      } catch (err) {
        reportError(err);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await client.close();
      }
    }),
  );
}
