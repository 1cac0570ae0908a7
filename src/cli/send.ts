/** `ferry send NAME [BODY...]`: each BODY, or each line of stdin, as one message. */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { QueueClient, SendBatchEntry, SendOptions } from '../client/index.js';
import { Limits } from '../protocol/limits.js';
import { action, clientSettings, queueName, secondsFlag, UsageError, withClient, withClientOptions, type ClientFlags } from './common.js';

interface SendFlags extends ClientFlags {
  delay?: string;
  group?: string;
  ttl?: string;
  quiet?: boolean;
}

/** Body bytes per sendBatch, well under the protocol's limit. */
const BATCH_BYTES = Limits.maxBatchBytes / 2;

class Sender {
  sent = 0;
  failed = 0;
  private batch: SendBatchEntry[] = [];
  private bytes = 0;
  private firstIndex = 0;

  constructor(
    private readonly queue: QueueClient,
    /** Options every message gets (delay, group, ttl); none = plain bodies. */
    private readonly options: SendOptions,
    private readonly quiet: boolean,
    private readonly label: string,
  ) {}

  async add(body: string, index: number): Promise<void> {
    const size = Buffer.byteLength(body);
    if (this.batch.length > 0 && (this.batch.length >= Limits.maxBatchEntries || this.bytes + size > BATCH_BYTES)) await this.flush();
    if (this.batch.length === 0) this.firstIndex = index;
    this.batch.push(Object.keys(this.options).length === 0 ? body : { body, ...this.options });
    this.bytes += size;
  }

  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.bytes = 0;
    const results = await this.queue.sendBatch(batch);
    let out = '';
    results.forEach((r, i) => {
      if ('ok' in r) {
        this.sent++;
        if (!this.quiet) out += `${r.ok.messageId}\n`;
      } else {
        this.failed++;
        process.stderr.write(`ferry: ${this.label} ${this.firstIndex + i + 1}: ${r.error.code}: ${r.error.message}\n`);
      }
    });
    if (out) process.stdout.write(out);
  }
}

export function registerSend(program: Command): void {
  withClientOptions(
    program
      .command('send <name> [body...]')
      .description('send each BODY as one message; with no BODY, each non-empty line of stdin')
      .option('--delay <seconds>', 'delivery delay, 0..900')
      .option('--group <id>', 'message group (strict FIFO / fairness), 1..128 characters')
      .option('--ttl <seconds>', "time to live, at most the queue's retention")
      .option('--quiet', 'print only the number of messages sent'),
  ).action(
    action(async (rawName: string, bodies: string[], flags: SendFlags) => {
      const name = queueName(rawName);
      const options: SendOptions = {};
      const delayMs = secondsFlag('--delay', flags.delay, 0, Limits.maxDelayMs / 1000);
      if (delayMs !== undefined) options.delayMs = delayMs;
      const ttlMs = secondsFlag('--ttl', flags.ttl, 1, Limits.maxRetentionMs / 1000);
      if (ttlMs !== undefined) options.ttlMs = ttlMs;
      if (flags.group !== undefined) {
        if (flags.group.length === 0 || flags.group.length > Limits.maxIdLength) throw new UsageError(`--group must be 1 to ${Limits.maxIdLength} characters`);
        options.groupId = flags.group;
      }
      const settings = clientSettings(flags);
      await withClient(settings, async (client) => {
        const fromArgs = bodies.length > 0;
        const sender = new Sender(client.queue(name), options, flags.quiet === true, fromArgs ? 'body' : 'line');
        if (fromArgs) {
          for (let i = 0; i < bodies.length; i++) await sender.add(bodies[i]!, i);
        } else {
          const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
          let n = 0;
          for await (const line of lines) {
            const i = n++;
            if (line.length > 0) await sender.add(line, i);
          }
        }
        await sender.flush();
        if (flags.quiet) process.stdout.write(`${sender.sent}\n`);
        if (sender.failed > 0) process.exitCode = 1;
      });
    }),
  );
}
