#!/usr/bin/env node
/** The `ferry` command. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerGroup } from './group.js';
import { registerNode } from './node.js';
import { registerQueue } from './queue.js';
import { registerReceive } from './receive.js';
import { registerRedrive } from './redrive.js';
import { registerSend } from './send.js';
import { registerServer } from './server.js';
import { registerTail } from './tail.js';

function version(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next layout (dist/ or sources)
    }
  }
  return 'unknown';
}

export function buildProgram(): Command {
  const program = new Command('ferry');
  program
    .description('Ferry message queue: run a broker, manage queues, send and receive messages')
    .version(version())
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => write(`ferry: ${str.replace(/^error: /, '')}`),
    })
    .showSuggestionAfterError(true);
  // Subcommands made with .command() inherit exitOverride and the output settings.
  registerServer(program);
  registerQueue(program);
  registerSend(program);
  registerReceive(program);
  registerTail(program);
  registerRedrive(program);
  registerGroup(program);
  registerNode(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage errors (unknown option, missing argument) exit 2.
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0;
      process.exitCode = ok ? 0 : 2;
      return;
    }
    process.stderr.write(`ferry: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

await main();
