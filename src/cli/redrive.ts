/** `ferry redrive start|list|cancel`: move messages out of a dead-letter queue, with progress. */
import type { Command } from 'commander';
import { Limits } from '../protocol/limits.js';
import type { RedriveTask } from '../protocol/ops.js';
import { action, clientSettings, CliError, intFlag, queueName, withClient, withClientOptions, type ClientFlags } from './common.js';

interface StartFlags extends ClientFlags {
  to?: string;
  max?: string;
  rate?: string;
  wait?: boolean;
}

const POLL_MS = 200;

/** One line: `[#######.............] 35/100 moved (running)`. */
export function progressLine(task: RedriveTask, width = 30): string {
  const frac = task.total === 0 ? 1 : Math.min(1, task.moved / task.total);
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${task.moved}/${task.total} moved (${task.state}${task.error === undefined ? '' : `: ${task.error}`})`;
}

function describe(t: RedriveTask): string {
  return `${t.task}  ${t.queue} → ${t.target ?? '(source queues)'}  ${t.moved}/${t.total}  ${t.ratePerSec}/s  ${t.state}${t.error === undefined ? '' : ` (${t.error})`}`;
}

export function registerRedrive(program: Command): void {
  const redrive = program.command('redrive').description('move messages from a dead-letter queue back to their source queues (or another queue)');

  withClientOptions(
    redrive
      .command('start <dlq>')
      .description('start a redrive task and show its progress until it ends (--no-wait to return at once)')
      .option('--to <queue>', 'move to this queue instead of each message\'s source queue')
      .option('--max <n>', 'move at most this many messages (default: all)')
      .option('--rate <n>', `messages per second, 1..${Limits.maxRedriveRate} (default ${Limits.defaultRedriveRate})`)
      .option('--no-wait', 'print the task id and return'),
  ).action(
    action(async (rawDlq: string, flags: StartFlags) => {
      const dlq = queueName(rawDlq);
      const opts: { target?: string; max?: number; ratePerSec?: number } = {};
      if (flags.to !== undefined) opts.target = queueName(flags.to);
      const max = intFlag('--max', flags.max, 1, Number.MAX_SAFE_INTEGER);
      if (max !== undefined) opts.max = max;
      const rate = intFlag('--rate', flags.rate, 1, Limits.maxRedriveRate);
      if (rate !== undefined) opts.ratePerSec = rate;
      await withClient(clientSettings(flags), async (client) => {
        let task = await client.startRedrive(dlq, opts);
        if (flags.wait === false) {
          process.stdout.write(`${task.task}\n`);
          return;
        }
        const tty = process.stdout.isTTY === true;
        process.stderr.write(`redrive ${task.task}: ${dlq} → ${task.target ?? '(source queues)'}\n`);
        while (task.state === 'running') {
          if (tty) process.stdout.write(`\r${progressLine(task)}`);
          await new Promise((r) => setTimeout(r, POLL_MS));
          task = (await client.listRedrives()).find((t) => t.task === task.task) ?? { ...task, state: 'failed', error: 'task vanished' };
        }
        process.stdout.write(`${tty ? '\r' : ''}${progressLine(task)}\n`);
        if (task.state === 'failed') throw new CliError(`redrive failed: ${task.error ?? 'unknown error'}`, 1);
      });
    }),
  );

  withClientOptions(redrive.command('list').description('list redrive tasks with their progress').option('--json', 'print JSON')).action(
    action(async (flags: ClientFlags & { json?: boolean }) => {
      await withClient(clientSettings(flags), async (client) => {
        const tasks = await client.listRedrives();
        if (flags.json) process.stdout.write(`${JSON.stringify(tasks)}\n`);
        else process.stdout.write(tasks.map((t) => `${describe(t)}\n`).join(''));
      });
    }),
  );

  withClientOptions(redrive.command('cancel <task>').description('stop a redrive task (what moved stays moved)')).action(
    action(async (task: string, flags: ClientFlags) => {
      await withClient(clientSettings(flags), async (client) => {
        const t = await client.cancelRedrive(task);
        process.stdout.write(`${describe(t)}\n`);
      });
    }),
  );
}
