// The CLI side of issue 3: attribute flags of `queue create` / `queue set`, the new rows of
// `queue stats`, and `ferry redrive` with its progress line — in-process for the flag parsing,
// and against a real broker for the commands.
import t from 'tap';
import { attributesFromFlags } from '../src/cli/queue.js';
import { progressLine } from '../src/cli/redrive.js';
import { positionFlag } from '../src/cli/group.js';
import { UsageError } from '../src/cli/common.js';
import { connect } from '../src/client/index.js';
import { startBroker } from './helpers/broker.js';
import { ferry as runFerry } from './helpers/cli.js';

const base = { url: 'ws://127.0.0.1:7700/ws' };

t.test('attribute flags become attributes; bad ones are usage errors naming the flag', async (t) => {
  t.same(attributesFromFlags({
    ...base, retention: '60', deadLetter: 'dlq', maxReceives: '3', maxLength: '10', maxBytes: '100', overflow: 'dropHead',
    ordering: 'strict', dedupWindow: '0', contentDedup: true, orderingWindow: '250', mode: 'queue',
  }), {
    retentionMs: 60_000, deadLetter: { queue: 'dlq', maxReceives: 3 }, maxLength: 10, maxBytes: 100, overflow: 'dropHead',
    ordering: 'strict', dedupWindowMs: 0, contentDedup: true, orderingWindowMs: 250, mode: 'queue',
  });
  t.same(attributesFromFlags({ ...base, deadLetter: false as unknown as string }), { deadLetter: null }, '--no-dead-letter');
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ retention: '59' }, /--retention must be an integer from 60 to 1209600/],
    [{ deadLetter: 'dlq' }, /--dead-letter needs --max-receives/],
    [{ maxReceives: '2' }, /--max-receives needs --dead-letter/],
    [{ deadLetter: 'dlq', maxReceives: '0' }, /--max-receives must be an integer from 1 to 1000/],
    [{ deadLetter: 'bad name', maxReceives: '1' }, /invalid queue name/],
    [{ overflow: 'spill' }, /--overflow must be one of reject, dropHead, deadLetterNew/],
    [{ ordering: 'fifo' }, /--ordering must be one of relaxed, strict/],
    [{ orderingWindow: '60001' }, /--ordering-window must be an integer from 0 to 60000/],
    [{ mode: 'log' }, /--mode must be one of queue, stream/],
  ];
  t.same(positionFlag('--start', 'time:1000'), { timestamp: 1000 });
  t.same(positionFlag('--start', 'time:1970-01-01T00:00:01Z'), { timestamp: 1000 });
  t.same(positionFlag('--start', 'offset:7'), { offset: 7 });
  for (const [flags, message] of bad) {
    t.throws(() => attributesFromFlags({ ...base, ...flags }), UsageError, JSON.stringify(flags));
    t.throws(() => attributesFromFlags({ ...base, ...flags }), message);
  }
});

t.test('the broker-wide unroutableQueue setting is validated', async (t) => {
  t.match(await runFerry(['server', '--unroutable-queue', 'no spaces', '--port', '0']), { code: 2, stderr: /ferry: unroutableQueue: must be a valid queue name, got "no spaces"/ });
});

t.test('progress line', async (t) => {
  t.equal(progressLine({ task: 'x', queue: 'd', state: 'running', moved: 5, total: 10, ratePerSec: 1, startedAt: 0 }, 10), '[#####.....] 5/10 moved (running)');
  t.equal(progressLine({ task: 'x', queue: 'd', state: 'failed', moved: 0, total: 0, ratePerSec: 1, startedAt: 0, error: 'gone' }, 4), '[####] 0/0 moved (failed: gone)');
});

t.test('queue create/set/stats and redrive against a broker', async (t) => {
  const broker = await startBroker(t, { shards: 2 });
  const url = ['--url', broker.url];
  t.match(await runFerry(['queue', 'create', 'dlq', ...url]), { code: 0, stdout: 'created dlq\n' });
  t.match(await runFerry(['queue', 'create', 'src', '--dead-letter', 'dlq', '--max-receives', '1', '--max-length', '100', '--overflow', 'dropHead', '--retention', '3600', ...url]), { code: 0 });
  const stats = await runFerry(['queue', 'stats', 'src', ...url]);
  t.equal(stats.code, 0);
  for (const row of [/deadLetter\s+dlq after 1 receives/, /maxLength\s+100/, /overflow\s+dropHead/, /retention\s+3600 s/, /ordering\s+relaxed/, /deadLettered\s+0/]) t.match(stats.stdout, row);
  t.match(await runFerry(['queue', 'set', 'src', '--ordering', 'strict', ...url]), { code: 0, stdout: 'updated src\n' });
  t.match(await runFerry(['queue', 'set', 'dlq', '--dead-letter', 'src', '--max-receives', '1', ...url]), { code: 1, stderr: /InvalidAttribute: .*cycle dlq → src → dlq/ });
  t.match(await runFerry(['queue', 'create', 'log', '--mode', 'stream', ...url]), { code: 0, stdout: 'created log\n' });
  t.match(await runFerry(['send', 'log', 'e1', 'e2', '--quiet', ...url]), { code: 0 });
  t.match(await runFerry(['group', 'create', 'log', 'readers', '--start', 'earliest', ...url]), { code: 0, stdout: /^readers  committed 0  position 0/ });
  t.match(await runFerry(['receive', 'log', '--group', 'readers', '--max', '10', '--delete', ...url]), { code: 0, stdout: 'e1\ne2\n' });
  t.match(await runFerry(['group', 'list', 'log', ...url]), { code: 0, stdout: /readers  committed 2  position 2  leased 0  lag 0/ });
  t.match(await runFerry(['group', 'seek', 'log', 'readers', 'offset:1', ...url]), { code: 0, stdout: /position 1/ });
  t.match(await runFerry(['group', 'seek', 'log', 'readers', 'sometime', ...url]), { code: 2, stderr: /<pos> must be earliest, latest, offset:N or time:MS\|ISO-8601/ });
  t.match(await runFerry(['receive', 'log', ...url]), { code: 1, stderr: /MissingField: group is required/ });

  t.match(await runFerry(['send', 'src', 'g1', 'g2', '--group', 'tenant-a', '--ttl', '60', '--quiet', ...url]), { code: 0, stdout: '2\n' });
  t.match(await runFerry(['send', 'src', 'x', '--ttl', '0', ...url]), { code: 2, stderr: /--ttl must be an integer from 1 to 1209600/ });
  const client = await connect(broker.url, { reconnect: false });
  const grouped = await client.queue('src').receive({ max: 10 });
  t.same(grouped.map((m) => m.groupId), ['tenant-a'], 'strict now: one of the group in flight');
  await client.purgeQueue('src');
  t.teardown(() => client.close());
  await client.queue('src').sendBatch(['a', 'b', 'c']);
  for (const m of await client.queue('src').receive({ max: 10 })) await client.queue('src').reject(m.receipt);
  for (let i = 0; i < 200 && (await client.getQueueAttributes('dlq')).stats.messages < 1; i++) await new Promise((r) => setTimeout(r, 50));
  const run = await runFerry(['redrive', 'start', 'dlq', '--rate', '1000', ...url]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /\[#+\] \d+\/\d+ moved \(done\)\n$/);
  const list = await runFerry(['redrive', 'list', '--json', ...url]);
  t.match(JSON.parse(list.stdout), [{ queue: 'dlq', state: 'done' }]);
  t.match(await runFerry(['redrive', 'cancel', 'nope', ...url]), { code: 1, stderr: /InvalidField: no redrive task nope/ });
});
