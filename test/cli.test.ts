// The `ferry` CLI end to end against a real broker: queue admin, send (arguments and stdin),
// receive with its flags, tail until SIGINT, and a server error as one line with exit 1.
// Bad flags are covered by cli-flags.test.ts.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { ferry, startFerry } from './helpers/cli.js';
import { waitFor } from './helpers/raw-socket.js';
import { connect, type FerryClient } from '../src/client/index.js';

const broker = await startBroker(t);
const url = ['--url', broker.url];
const client: FerryClient = await connect(broker.url, { reconnect: false });
t.teardown(() => client.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const lines = (s: string): string[] => s.split('\n').filter((l) => l.length > 0);

t.test('queue create | list | stats | purge | delete', async (t) => {
  const created = await ferry(['queue', 'create', 'cli-q', '--visibility', '45', '--max-message-bytes', '1000', ...url]);
  t.equal(created.code, 0, created.stderr);
  t.equal(created.stdout, 'created cli-q\n');
  t.match((await client.getQueueAttributes('cli-q')).attributes, { visibilityMs: 45_000, maxMessageBytes: 1000 }, 'flags became attributes');

  const again = await ferry(['queue', 'create', 'cli-q', '--visibility', '45', '--max-message-bytes', '1000', ...url]);
  t.equal(again.stdout, 'exists cli-q\n', 'same attributes: exists, exit 0');
  t.equal(again.code, 0);
  const clash = await ferry(['queue', 'create', 'cli-q', '--visibility', '46', ...url]);
  t.equal(clash.code, 1, 'different attributes: exit 1');
  t.equal(clash.stderr, 'ferry: QueueAlreadyExists: queue cli-q exists with visibilityMs=45000, not 46000\n', 'one line naming the code');
  t.equal(clash.stdout, '');

  await Promise.all(['cli-list-b', 'cli-list-a', 'cli-list-c'].map((n) => client.createQueue(n)));
  const listed = await ferry(['queue', 'list', '--prefix', 'cli-list-', ...url]);
  t.equal(listed.code, 0, listed.stderr);
  t.equal(listed.stdout, 'cli-list-a\ncli-list-b\ncli-list-c\n', 'sorted, one per line');
  const limited = await ferry(['queue', 'list', '--prefix', 'cli-list-', '--limit', '2', ...url]);
  t.equal(limited.stdout, 'cli-list-a\ncli-list-b\n', '--limit');
  const all = await ferry(['queue', 'list', ...url]);
  t.ok(lines(all.stdout).includes('cli-q'));

  await client.queue('cli-q').sendBatch(['one', 'two', 'three']);
  await client.queue('cli-q').send('later', { delayMs: 600_000 });
  await client.queue('cli-q').receive();
  const stats = await ferry(['queue', 'stats', 'cli-q', ...url]);
  t.equal(stats.code, 0, stats.stderr);
  t.match(stats.stdout, /^queue\s+cli-q$/m);
  t.match(stats.stdout, /^visibility\s+45 s$/m);
  t.match(stats.stdout, /^visible\s+2$/m);
  t.match(stats.stdout, /^leased\s+1$/m);
  t.match(stats.stdout, /^delayed\s+1$/m);
  const json = await ferry(['queue', 'stats', 'cli-q', '--json', ...url]);
  t.match(JSON.parse(json.stdout), { queue: 'cli-q', stats: { visible: 2, leased: 1, delayed: 1 }, attributes: { visibilityMs: 45_000 } });

  const purged = await ferry(['queue', 'purge', 'cli-q', ...url]);
  t.equal(purged.code, 0, purged.stderr);
  t.equal(purged.stdout, 'purged 4 messages from cli-q\n');
  t.match((await client.getQueueAttributes('cli-q')).stats, { visible: 0, leased: 0, delayed: 0 });

  const deleted = await ferry(['queue', 'delete', 'cli-q', ...url]);
  t.equal(deleted.code, 0, deleted.stderr);
  t.equal(deleted.stdout, 'deleted cli-q\n');
  t.notOk((await client.listQueues({ prefix: 'cli-q' })).queues.includes('cli-q'));
});

t.test('send BODY… and lines from stdin', async (t) => {
  await client.createQueue('cli-send');
  const sent = await ferry(['send', 'cli-send', 'alpha', 'beta gamma', ...url]);
  t.equal(sent.code, 0, sent.stderr);
  const ids = lines(sent.stdout);
  t.equal(ids.length, 2);
  t.ok(ids.every((id) => UUID.test(id)), 'one message id per line');

  const piped = await ferry(['send', 'cli-send', ...url], { input: 'line 1\n\nline 2\r\nline 3' });
  t.equal(piped.code, 0, piped.stderr);
  t.equal(lines(piped.stdout).length, 3, 'blank lines skipped; CRLF and a last line without newline handled');

  const quiet = await ferry(['send', 'cli-send', '--quiet', '--delay', '600', ...url], { input: Array.from({ length: 1200 }, (_, i) => `bulk ${i}`).join('\n') });
  t.equal(quiet.code, 0, quiet.stderr);
  t.equal(quiet.stdout, '1200\n', '--quiet prints the count');

  const got = await client.queue('cli-send').receive({ max: 100 });
  t.same(got.map((m) => Buffer.from(m.body).toString()), ['alpha', 'beta gamma', 'line 1', 'line 2', 'line 3']);
  t.same(got.slice(0, 2).map((m) => m.messageId), ids, 'the printed ids are the message ids');
  t.equal((await client.getQueueAttributes('cli-send')).stats.delayed, 1200, '--delay applied to every line');

  await client.createQueue('cli-send-small', { maxMessageBytes: 5 });
  const partly = await ferry(['send', 'cli-send-small', 'ok', 'too long', 'fine', ...url]);
  t.equal(partly.code, 1, 'a rejected body: exit 1');
  t.equal(lines(partly.stdout).length, 2, 'the others were sent');
  t.match(partly.stderr, /^ferry: body 2: BodyTooLarge: .+\n$/, 'one line naming the body and the code');
});

t.test('receive --max --wait --visibility --delete --json', async (t) => {
  await client.createQueue('cli-recv');
  const q = client.queue('cli-recv');
  await q.sendBatch(['r1', 'r2', 'r3']);

  const plain = await ferry(['receive', 'cli-recv', '--max', '2', '--visibility', '600', ...url]);
  t.equal(plain.code, 0, plain.stderr);
  t.equal(plain.stdout, 'r1\nr2\n', 'bodies, one per line');
  t.match((await q.attributes()).stats, { leased: 2, visible: 1 }, 'leased, not deleted, without --delete');

  const json = await ferry(['receive', 'cli-recv', '--max', '10', '--json', '--delete', ...url]);
  t.equal(json.code, 0, json.stderr);
  const parsed = lines(json.stdout).map((l) => JSON.parse(l) as { messageId: string; receipt: string; receiveCount: number; body: string });
  t.equal(parsed.length, 1);
  t.match(parsed[0], { body: 'r3', receiveCount: 1, messageId: UUID, receipt: String });
  t.match((await q.attributes()).stats, { leased: 2, visible: 0 }, '--delete deleted what it got');

  const empty = await ferry(['receive', 'cli-recv', ...url]);
  t.equal(empty.code, 0);
  t.equal(empty.stdout, '', 'nothing to get: no output, exit 0');

  // --wait: a receive that waits is answered by a send made while it waits.
  const waiting = startFerry(['receive', 'cli-recv', '--wait', '15', '--delete', ...url]);
  // Until the CLI has connected and its receive waits at the broker there is nothing to see; a
  // send before that would simply be received at once, which passes too.
  await new Promise((r) => setTimeout(r, 500));
  await q.send('worth the wait');
  const woke = await waiting.exited;
  t.equal(woke.code, 0, woke.stderr);
  t.equal(woke.stdout, 'worth the wait\n');

  // --visibility: a short lease runs out and the message is delivered again.
  await q.send('short');
  const first = await ferry(['receive', 'cli-recv', '--visibility', '1', '--json', ...url]);
  t.match(JSON.parse(first.stdout), { body: 'short', receiveCount: 1 });
  const second = await ferry(['receive', 'cli-recv', '--wait', '10', '--json', '--delete', ...url]);
  t.match(JSON.parse(second.stdout), { body: 'short', receiveCount: 2 }, 'redelivered after the 1 s lease');
});

t.test('a server error prints one line and exits non-zero', async (t) => {
  const missing = await ferry(['receive', 'cli-nowhere', ...url]);
  t.equal(missing.code, 1);
  t.equal(missing.stderr, 'ferry: QueueDoesNotExist: queue cli-nowhere does not exist\n');
  t.equal(missing.stdout, '');
  for (const args of [['send', 'cli-nowhere', 'x'], ['queue', 'stats', 'cli-nowhere'], ['queue', 'purge', 'cli-nowhere'], ['queue', 'delete', 'cli-nowhere'], ['tail', 'cli-nowhere']]) {
    const r = await ferry([...args, ...url]);
    t.equal(r.code, 1, `${args.join(' ')}: exit 1`);
    t.equal(r.stderr, 'ferry: QueueDoesNotExist: queue cli-nowhere does not exist\n', `${args.join(' ')}: one line`);
  }
});

t.test('tail prints pushed messages as they arrive, and stops on SIGINT', async (t) => {
  await client.createQueue('cli-tail');
  const q = client.queue('cli-tail');
  await q.send('before');
  const tail = startFerry(['tail', 'cli-tail', ...url]);
  t.teardown(() => {
    if (tail.exitCode === null && tail.signalCode === null) tail.kill('SIGKILL');
  });
  await waitFor('tail to print the waiting message', () => (tail.output.stdout.includes('before\n') ? true : undefined), 15_000);
  for (const body of ['one', 'two', 'three']) {
    await q.send(body);
    await waitFor(`tail to print ${body}`, () => (tail.output.stdout.includes(`${body}\n`) ? true : undefined), 10_000);
  }
  await q.sendBatch(['b1', 'b2', 'b3', 'b4']);
  await waitFor('tail to print the batch', () => (lines(tail.output.stdout).length >= 8 ? true : undefined), 10_000);
  t.equal(tail.output.stdout, 'before\none\ntwo\nthree\nb1\nb2\nb3\nb4\n', 'every message once, in order, as it arrived');

  tail.kill('SIGINT');
  const exit = await tail.exited;
  t.equal(exit.code, 0, `exits 0 on SIGINT (stderr: ${exit.stderr})`);
  t.equal(exit.stderr, '', 'nothing on stderr');
  let stats = (await q.attributes()).stats;
  for (let i = 0; i < 50 && stats.leased + stats.visible > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    stats = (await q.attributes()).stats;
  }
  t.match(stats, { visible: 0, leased: 0 }, 'tail deleted what it printed');

  const json = startFerry(['tail', 'cli-tail', '--json', ...url]);
  await q.send('as json');
  await waitFor('the JSON line', () => (json.output.stdout.includes('\n') ? true : undefined), 15_000);
  t.match(JSON.parse(lines(json.output.stdout)[0]!), { body: 'as json', receiveCount: 1, messageId: UUID });
  json.kill('SIGINT');
  t.equal((await json.exited).code, 0);
});

t.test('tail ends with one line and exit 1 when its queue is deleted', async (t) => {
  await client.createQueue('cli-tail-gone');
  const tail = startFerry(['tail', 'cli-tail-gone', ...url]);
  t.teardown(() => {
    if (tail.exitCode === null && tail.signalCode === null) tail.kill('SIGKILL');
  });
  await client.queue('cli-tail-gone').send('first');
  await waitFor('tail to print', () => (tail.output.stdout.includes('first\n') ? true : undefined), 15_000);
  await client.deleteQueue('cli-tail-gone');
  const exit = await tail.exited;
  t.equal(exit.code, 1);
  t.equal(exit.stderr, 'ferry: QueueDoesNotExist: queue cli-tail-gone was deleted\n');
});
