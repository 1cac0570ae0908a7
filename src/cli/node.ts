/** `ferry node drain`: cluster membership admin. */
import type { Command } from 'commander';
import { action, clientSettings, intFlag, nodeIdArg, CliError, withClient, withClientOptions, type ClientFlags } from './common.js';

export function registerNode(program: Command): void {
  const node = program.command('node').description('cluster mode: manage the nodes of a cluster');

  withClientOptions(
    node.command('drain <id>')
      .description('move every queue copy off a node (it may then leave); prints what is left on it')
      .option('--wait <seconds>', 'repeat until nothing is left on the node, at most this long'),
  ).action(
    action(async (rawId: string, flags: ClientFlags & { wait?: string }) => {
      const id = nodeIdArg('node id', rawId);
      const waitS = intFlag('--wait', flags.wait, 1, 86_400);
      await withClient(clientSettings(flags), async (client) => {
        const deadline = Date.now() + (waitS ?? 0) * 1000;
        for (;;) {
          const res = await client.drainNode(id);
          process.stdout.write(`node ${res.node} draining: ${res.remaining} queue${res.remaining === 1 ? '' : 's'} left${res.remaining > 0 ? ` (${res.queues.join(', ')})` : ''}\n`);
          if (res.remaining === 0 || waitS === undefined) return;
          if (Date.now() >= deadline) throw new CliError(`node ${id} still holds ${res.remaining} queue copies after ${waitS} s`, 1);
          await new Promise((r) => setTimeout(r, 1000));
        }
      });
    }),
  );
}
