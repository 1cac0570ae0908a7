/**
 * The built `ferry` CLI: bad flags exit 2 with one `ferry: ...` line, `--help` works for every
 * command, connection and server errors exit 1 with one line. Runs dist/ (build first).
 */
import t from 'tap';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { decodeFrame, encodeFrame } from '../src/protocol/codec.js';
import { ferry } from './helpers/cli.js';

/** A port nothing listens on (the broker never runs in this test). */
const DEAD_URL = 'ws://127.0.0.1:9/ws';

const badFlags: [string[], string][] = [
  [['receive', 'q', '--max', '0'], 'ferry: --max must be an integer from 1 to 1000'],
  [['receive', 'q', '--max', '2.5'], 'ferry: --max must be an integer from 1 to 1000'],
  [['receive', 'q', '--max', 'lots'], 'ferry: --max must be an integer from 1 to 1000'],
  [['receive', 'q', '--wait', '21'], 'ferry: --wait must be an integer from 0 to 20'],
  [['receive', 'q', '--visibility', '-1'], 'ferry: --visibility must be an integer from 0 to 43200'],
  [['receive', 'q', '--timeout', '0'], 'ferry: --timeout must be an integer from 1 to 3600000'],
  [['receive', 'q', '--url', 'http://127.0.0.1:7700/ws'], 'ferry: --url must be one or more ws:// or wss:// URLs separated by commas, got "http://127.0.0.1:7700/ws"'],
  [['queue', 'create', 'q', '--visibility', '43201'], 'ferry: --visibility must be an integer from 0 to 43200'],
  [['queue', 'create', 'q', '--max-message-bytes', '0'], 'ferry: --max-message-bytes must be an integer from 1 to 1048576'],
  [['queue', 'create', 'q', '--delay', '901'], 'ferry: --delay must be an integer from 0 to 900'],
  [['queue', 'create', 'q', '--receive-wait', 'x'], 'ferry: --receive-wait must be an integer from 0 to 20'],
  [['queue', 'create', 'no spaces'], 'ferry: invalid queue name "no spaces": 1 to 80 of A-Z a-z 0-9 _ - with an optional .fifo suffix'],
  [['queue', 'list', '--limit', '0'], 'ferry: --limit must be an integer from 1 to 1000000'],
  [['send', 'q', 'hello', '--delay', '-5'], 'ferry: --delay must be an integer from 0 to 900'],
  [['tail', 'q', '--prefetch', '100001'], 'ferry: --prefetch must be an integer from 1 to 100000'],
  [['server', '--port', '70000'], 'ferry: port: must be an integer from 0 to 65535, got "70000"'],
  [['server', '--shards', '0'], 'ferry: shards: must be an integer from 1 to 64, got "0"'],
  [['server', '--log-level', 'loud'], 'ferry: logLevel: must be one of fatal, error, warn, info, debug, trace, silent'],
  [['receive', 'q', '--bogus'], "ferry: unknown option '--bogus'"],
  [['receive'], "ferry: missing required argument 'name'"],
  [['frobnicate'], "ferry: unknown command 'frobnicate'"],
];

for (const [args, line] of badFlags) {
  // A bad flag must fail before any connection: the URL points nowhere. Started now, awaited below.
  const run = ferry([...args, ...(args[0] === 'server' || args.includes('--url') ? [] : ['--url', DEAD_URL])]);
  t.test(`ferry ${args.join(' ')} → exit 2`, async (t) => {
    const r = await run;
    t.equal(r.code, 2);
    t.equal(r.stderr, `${line}\n`, 'exactly one line');
    t.equal(r.stdout, '');
  });
}

t.test('server settings come from FERRY_* env too (validated the same way)', async (t) => {
  const r = await ferry(['server'], { env: { FERRY_PORT: 'abc' } });
  t.equal(r.code, 2);
  t.equal(r.stderr, 'ferry: port: must be an integer from 0 to 65535, got "abc"\n');
});

const helpCommands = [
  [], ['server'], ['queue'], ['queue', 'create'], ['queue', 'delete'], ['queue', 'list'], ['queue', 'stats'], ['queue', 'purge'],
  ['send'], ['receive'], ['tail'],
];

for (const cmd of helpCommands) {
  const run = ferry([...cmd, '--help']);
  t.test(`ferry ${cmd.join(' ')} --help`, async (t) => {
    const r = await run;
    t.equal(r.code, 0);
    t.match(r.stdout, new RegExp(`^Usage: ferry${cmd.length ? ' ' + cmd.join(' ') : ''} `));
    if (cmd.length > 0 && cmd[0] !== 'server' && !(cmd.length === 1 && cmd[0] === 'queue')) t.match(r.stdout, /--url <url>/);
  });
}

t.test('connection refused → one line, exit 1', async (t) => {
  const r = await ferry(['receive', 'q', '--url', DEAD_URL]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^ferry: cannot connect to ws:\/\/127\.0\.0\.1:9\/ws: .*ECONNREFUSED.*\n$/);
  t.equal(r.stderr.split('\n').length, 2, 'one line');
});

t.test('FERRY_URL is the default --url', async (t) => {
  const r = await ferry(['queue', 'list'], { env: { FERRY_URL: DEAD_URL } });
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot connect to ws:\/\/127\.0\.0\.1:9\/ws/);
});

/** A fake broker answering a few ops, to check the CLI's output and its server-error line. */
async function fakeBroker(): Promise<{ url: string; ops: { op: string; args: Record<string, unknown> }[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const ops: { op: string; args: Record<string, unknown> }[] = [];
  let seq = 0;
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      const decoded = decodeFrame(data);
      const frames = (Array.isArray(decoded) ? decoded : [decoded]) as { id: number; op: string; args: Record<string, unknown> }[];
      const replies = frames.map(({ id, op, args }) => {
        ops.push({ op, args });
        switch (op) {
          case 'sendBatch':
            return { id, result: { results: (args.entries as unknown[]).map(() => ({ ok: { messageId: `id-${++seq}`, seq } })) } };
          case 'receive':
            return {
              id,
              result: {
                messages: [1, 2].map((n) => ({
                  messageId: `m${n}`, receipt: `r${n}`, body: Buffer.from(`body ${n}`), seq: n, receiveCount: n, sentAt: 0, firstReceivedAt: 0,
                })),
              },
            };
          case 'deleteBatch':
            return { id, result: { results: (args.receipts as unknown[]).map(() => ({ ok: { deleted: true } })) } };
          default:
            return { id, error: { code: 'QueueDoesNotExist', message: `queue ${String(args.queue)} does not exist`, field: 'queue' } };
        }
      });
      ws.send(encodeFrame(replies.length === 1 ? replies[0] : replies));
    });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    ops,
    close: () => new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => r());
    }),
  };
}

t.test('against a fake broker: output, stdin batching, server error line', async (t) => {
  const fake = await fakeBroker();
  t.teardown(() => fake.close());

  const sent = await ferry(['send', 'q', 'a', 'b', '--url', fake.url]);
  t.equal(sent.code, 0, sent.stderr);
  t.equal(sent.stdout, 'id-1\nid-2\n');

  const lines = Array.from({ length: 1500 }, (_, i) => `line ${i}`).join('\n') + '\n\n';
  const piped = await ferry(['send', 'q', '--quiet', '--url', fake.url], { input: lines });
  t.equal(piped.code, 0, piped.stderr);
  t.equal(piped.stdout, '1500\n');
  const batches = fake.ops.filter((o) => o.op === 'sendBatch').slice(1).map((o) => (o.args.entries as unknown[]).length);
  t.same(batches, [1000, 500], 'stdin lines go in batches of up to 1000; blank lines skipped');

  const got = await ferry(['receive', 'q', '--max', '2', '--wait', '1', '--visibility', '5', '--delete', '--json', '--url', fake.url]);
  t.equal(got.code, 0, got.stderr);
  t.same(got.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown), [
    { messageId: 'm1', receipt: 'r1', receiveCount: 1, body: 'body 1' },
    { messageId: 'm2', receipt: 'r2', receiveCount: 2, body: 'body 2' },
  ]);
  t.match(fake.ops.find((o) => o.op === 'receive')!.args, { queue: 'q', max: 2, waitMs: 1000, visibilityMs: 5000 });
  t.same(fake.ops.find((o) => o.op === 'deleteBatch')!.args, { queue: 'q', receipts: ['r1', 'r2'] });

  const plain = await ferry(['receive', 'q', '--url', fake.url]);
  t.equal(plain.stdout, 'body 1\nbody 2\n');

  const stats = await ferry(['queue', 'stats', 'nope', '--url', fake.url]);
  t.equal(stats.code, 1);
  t.equal(stats.stderr, 'ferry: QueueDoesNotExist: queue nope does not exist\n');
});
