// Resources are closed on shutdown (issue 2: "on SIGTERM/SIGINT stops cleanly (drains, closes
// sockets, workers and RocksDB) and exits 0"):
//  - a broker process with open connections, a long poll in flight and a push subscription exits 0
//    on SIGTERM within a bound; the long poll is answered, every client sees 1001, and the RocksDB
//    directories open again at once;
//  - in-process: after close() no handle the broker created stays active, and this same process can
//    open the shard directories (RocksDB refuses a second open of a directory a process holds);
//  - a shard worker told to close right after a request that leases a message exits at once;
//  - a broker that cannot start (its data directory is in use) closes what it started and exits 1.
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type DisconnectInfo, type FerryClient } from '../src/client/index.js';
import { ShardStore } from '../src/storage/shard-store.js';
import type { FromShard, ShardWorkerData, ToShard } from '../src/actors/shard-messages.js';
import { answerTo } from './helpers/shard-answers.js';
import { startBroker as startInProcess } from '../src/supervisor/broker.js'; // compiled: dist/src (its shards are worker threads from there)
import { resolveBrokerConfig } from '../src/supervisor/config.js';
import { BrokerProcess, startBroker } from './helpers/broker.js';
import { outcome, waitFor, within } from './helpers/bounded.js';
import { repoPath } from './helpers/paths.js';

/** Below the shard pool's 10 s force-terminate: a worker that does not close by itself fails this. */
const EXIT_BOUND_MS = 8_000;

/**
 * Puts a long poll (20 s) and a push subscription holding leases on `client`, and waits until the
 * shards have both (a later request to the same queue returns only after the shard saw the earlier).
 */
async function busyClients(url: string): Promise<{ clients: FerryClient[]; disconnects: DisconnectInfo[]; longPoll: ReturnType<typeof outcome<unknown>>; pushed: () => number }> {
  const disconnects: DisconnectInfo[] = [];
  const clients = await Promise.all([0, 1, 2].map(() => connect(url, { reconnect: false })));
  for (const c of clients) c.on('disconnected', (info) => disconnects.push(info));
  const [poller, subscriber] = clients as [FerryClient, FerryClient, FerryClient];
  await poller.createQueue('sd-poll');
  await poller.createQueue('sd-sub');
  const longPoll = outcome<unknown>(poller.queue('sd-poll').receive({ waitMs: 20_000 }));
  await poller.getQueueAttributes('sd-poll');
  let pushed = 0;
  await subscriber.queue('sd-sub').subscribe({ credit: 10, visibilityMs: 600_000 }, (ms) => (pushed += ms.length));
  await subscriber.queue('sd-sub').sendBatch(['one', 'two', 'three']);
  await waitFor(() => pushed === 3, { timeoutMs: 5_000, what: 'three messages pushed and leased' });
  return { clients, disconnects, longPoll, pushed: () => pushed };
}

t.test('SIGTERM with busy connections: exit 0, long poll answered, clients see 1001, RocksDB free', async (t) => {
  const broker = await startBroker(t, { shards: 2 });
  const { clients, disconnects, longPoll } = await busyClients(broker.url);

  const exit = await within(broker.stop('SIGTERM'), EXIT_BOUND_MS, 'broker exit after SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'exit code 0');
  const poll = await within(longPoll, 2_000, 'long poll settles');
  t.same(poll, { ok: true, value: [] }, 'the long poll was answered (empty), not cut off');
  await waitFor(() => disconnects.length === clients.length, { timeoutMs: 2_000, what: 'every client saw the close' });
  t.same(disconnects.map((d) => d.code), [1001, 1001, 1001], 'every client saw 1001 going away');
  t.ok(disconnects.every((d) => d.reason === 'server shutting down'), 'with the reason');

  // The RocksDB directories are not locked: they open at once, and the leased messages are there.
  const found: string[] = [];
  for (const shard of [0, 1]) {
    const store = await within(ShardStore.open(join(broker.dataDir, `shard-${shard}`)), 5_000, `open shard ${shard}`);
    for (const q of await store.recover()) found.push(`${q.record.name}:${q.messages.length}`);
    await store.close();
  }
  t.same(found.sort(), ['sd-poll:0', 'sd-sub:3'], 'both queues on disk, the pushed (leased) messages kept');
  await within(broker.start(), 20_000, 'a second broker starts on the same directory');
  t.equal((await fetch(`${broker.httpUrl}/readyz`)).status, 200, 'and is ready');
  await Promise.all(clients.map((c) => c.close()));
});

/** Active handles and requests by type, as a multiset. */
function resources(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

/** Types of which there are more now than in `before`. */
function leftOver(before: Map<string, number>): string[] {
  return [...resources()].filter(([type, n]) => n > (before.get(type) ?? 0)).map(([type, n]) => `${type} ×${n - (before.get(type) ?? 0)}`);
}

t.test('in process: close() leaves no active handle behind and releases the RocksDB directories', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-inproc-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const before = resources();
  const broker = await startInProcess(resolveBrokerConfig({ port: 0, dataDir, shards: 2, logLevel: 'silent' }));
  const { clients, disconnects, longPoll } = await busyClients(`ws://127.0.0.1:${broker.port}/ws`);
  t.equal((await fetch(`http://127.0.0.1:${broker.port}/metrics`)).status, 200, 'metrics scraped (asks every shard)');
  t.ok(leftOver(before).length > 0, `the running broker holds handles: ${leftOver(before).join(', ')}`);

  await within(broker.close(), EXIT_BOUND_MS, 'broker.close()');
  await within(broker.close(), 1_000, 'a second close() is a no-op');
  t.same(await within(longPoll, 2_000, 'long poll settles'), { ok: true, value: [] }, 'the long poll was answered');
  await waitFor(() => disconnects.length === clients.length, { timeoutMs: 2_000, what: 'clients closed by the server' });
  t.same(disconnects.map((d) => d.code), [1001, 1001, 1001], 'every client saw 1001 going away');
  await Promise.all(clients.map((c) => c.close()));
  // Closing sockets and workers report back over a tick or two: poll, bounded.
  await waitFor(() => leftOver(before).length === 0, { timeoutMs: 5_000, what: `no handle left (still: ${leftOver(before).join(', ')})` }).catch(() => undefined);
  t.same(leftOver(before), [], 'every handle the broker and its clients opened is closed');

  // RocksDB lets one process open a directory once: this open would fail if a worker still held it.
  for (const shard of [0, 1]) {
    const store = await ShardStore.open(join(dataDir, `shard-${shard}`));
    t.ok(store, `shard-${shard} opens in the same process`);
    await store.close();
  }
});

t.test('a shard worker told to close right after a leasing request exits at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-worker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const workerData: ShardWorkerData = { shard: 0, dir, bodyCacheBytes: 1 << 20 };
  const worker = new Worker(repoPath('dist/src/actors/shard-worker.js'), { workerData });
  t.teardown(() => worker.terminate());
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const got: FromShard[] = [];
  worker.on('message', (batch: FromShard[]) => got.push(...batch));
  const post = (...m: ToShard[]): void => worker.postMessage(m);
  const answer = (r: number) => waitFor(() => got.some((m) => 'r' in m && m.r === r), { timeoutMs: 5_000, what: `answer ${r}` });
  await waitFor(() => got.some((m) => m.t === 'ready'), { timeoutMs: 10_000, what: 'worker ready' });
  const qid = '00112233445566ff';
  post({ t: 'create', r: 1, id: qid, name: 'q', attributes: {}, createdAt: Date.now() });
  await answer(1);
  post({ t: 'req', r: 2, qid, session: 1, req: { op: 'send', args: { queue: 'q', body: Buffer.from('x') } } });
  await answer(2);
  // Two messages in one event-loop turn of the worker, as ShardPool.close() sends them: the receive
  // schedules a turn, then the close arrives before that turn runs. The lease (60 s) must not keep
  // the thread alive.
  post({ t: 'req', r: 3, qid, session: 1, req: { op: 'receive', args: { queue: 'q', visibilityMs: 60_000 } } });
  post({ t: 'close' });
  t.equal(await within(exited, 5_000, 'worker exit after close'), 0, 'the worker exits with 0');
  const reply = answerTo(got, 3);
  // Received messages come back CBOR-encoded (the main thread splices them into the client's frame).
  t.ok(reply?.t === 'reply' && reply.encoded && (reply.result as { messages: unknown[] }).messages.length === 1, 'the receive was answered before the close');
  t.ok(got.some((m) => m.t === 'closed'), 'the worker reported its store closed');
});

t.test('a broker whose data directory is in use exits 1 at once with the reason, and the first keeps serving', async (t) => {
  const first = await startBroker(t, { shards: 2 });
  const second = new BrokerProcess({ dataDir: first.dataDir, shards: 2, readyTimeoutMs: 15_000 });
  t.teardown(() => second.cleanup());
  const failed = await outcome(second.start());
  t.ok(!failed.ok, 'the second broker does not start');
  const message = failed.ok ? '' : String(failed.error);
  t.match(message, /exited before ready \(\{"code":1,"signal":null\}\)/, 'it exits with code 1 instead of retrying its shards forever');
  t.match(second.output, /cannot start the broker: cannot open RocksDB at .*shard-\d: IO error: While lock file/, 'and says why');
  t.equal((await fetch(`${first.httpUrl}/readyz`)).status, 200, 'the first broker is unharmed');
});
