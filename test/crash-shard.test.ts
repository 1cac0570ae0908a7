// Issue 2, "Proof": a shard-worker crash. With --shards 2 and --fault-injection, shard 0's worker
// thread is killed (POST /admin/shards/0/crash) while clients use queues on both shards:
//  - requests in flight on the dying shard fail at once with the retryable ShardUnavailable
//    (a 20 s long poll among them), none hangs;
//  - the worker is restarted (/readyz back to 200) and its queues come back from RocksDB with every
//    acknowledged message, leased ones visible again;
//  - a push subscription on it ends with a retryable end and the SDK subscribes again by itself;
//  - the other shard never stops serving: a client working on it meanwhile sees no error at all.
//
// Placement is the router's "fewest queues" rule on a fresh data directory: queues created in turn
// land on shard 0, 1, 0, 1, 0 (src/supervisor/router.ts).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ShardPool, type Answer } from '../src/supervisor/shard-pool.js'; // compiled: dist/src, whose pool starts dist/src/actors/shard-worker.js
import { connect, ErrorCodes, FerryError, type DeliveredMessage, type FerryClient } from '../src/client/index.js';
import { startBroker } from './helpers/broker.js';
import { outcome, waitFor, within } from './helpers/bounded.js';
import { countOf, drainQueue } from './helpers/drain.js';

const VICTIM = 'victim'; //           shard 0: sends in flight, recovery from disk
const BYSTANDER = 'bystander'; //     shard 1: must keep serving
const VICTIM_SUB = 'victim-sub'; //   shard 0: an SDK consumer
const BYSTANDER_SUB = 'bystander-sub'; // shard 1: a subscription that must not end
const VICTIM_POLL = 'victim-poll'; // shard 0: an empty queue: a 20 s long poll and a low-level subscription
const LEASE_MS = 10 * 60 * 1000;

const text = (m: DeliveredMessage): string => Buffer.from(m.body).toString();

function isShardUnavailable(err: unknown): boolean {
  return err instanceof FerryError && err.code === ErrorCodes.ShardUnavailable && err.retryable;
}

/** Sends batches to `queue` from several loops until stopped; records what was acked and how requests failed. */
function sendLoops(client: FerryClient, queue: string, loops: number) {
  const acked = new Set<string>();
  const unknown = new Set<string>();
  const errors: unknown[] = [];
  let stopped = false;
  let n = 0;
  const done = Promise.all(Array.from({ length: loops }, async () => {
    while (!stopped) {
      const ids = Array.from({ length: 10 }, () => `v-${n++}`);
      const sent = await outcome(within(client.queue(queue).sendBatch(ids), 10_000, 'sendBatch on the victim shard'));
      if (sent.ok) {
        for (const id of ids) acked.add(id);
      } else {
        for (const id of ids) unknown.add(id);
        errors.push(sent.error);
        await new Promise((r) => setTimeout(r, 5)); // the shard is down: do not spin
      }
    }
  }));
  return { acked, unknown, errors, stop: () => (stopped = true), done };
}

/** send → receive → delete on the other shard, until stopped; every error is kept. */
function bystanderLoop(client: FerryClient) {
  const errors: unknown[] = [];
  const opsAt: number[] = [];
  let stopped = false;
  const q = client.queue(BYSTANDER);
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      try {
        await within(q.send(`b-${i}`), 5_000, 'bystander send');
        const [m] = await within(q.receive({ max: 1, visibilityMs: LEASE_MS }), 5_000, 'bystander receive');
        if (m === undefined || text(m) !== `b-${i}`) throw new Error(`bystander received ${m === undefined ? 'nothing' : text(m)}, expected b-${i}`);
        if (!(await within(q.delete(m.receipt), 5_000, 'bystander delete'))) throw new Error(`bystander delete of b-${i} deleted nothing`);
        opsAt.push(Date.now());
      } catch (err) {
        errors.push(err);
      }
    }
  })();
  return { errors, opsAt, stop: () => (stopped = true), done };
}

async function status(url: string): Promise<number> {
  return (await fetch(url)).status;
}

t.test('a crashed shard worker restarts with its queues; the other shard never stops serving', async (t) => {
  const broker = await startBroker(t, { shards: 2, args: ['--fault-injection'] });
  // The SDK's own retries off: this test watches what the broker answers while a shard restarts.
  const opts = { requestTimeoutMs: 10_000, retry: false } as const;
  // Clients reconnect by themselves: close them even when an assertion fails, or they would retry forever.
  const open = async (): Promise<FerryClient> => {
    const c = await connect(broker.url, opts);
    t.teardown(() => c.close());
    return c;
  };
  const admin = await open();
  for (const q of [VICTIM, BYSTANDER, VICTIM_SUB, BYSTANDER_SUB, VICTIM_POLL]) await admin.createQueue(q);

  // Acknowledged before the crash, some of them leased (and not deleted) when it happens.
  const before = Array.from({ length: 100 }, (_, i) => `before-${i}`);
  await admin.queue(VICTIM).sendBatch(before);
  const leased = await admin.queue(VICTIM).receive({ max: 10, visibilityMs: LEASE_MS });
  t.equal(leased.length, 10, 'ten messages leased before the crash');

  // Clients on both shards. None of them may see its connection close.
  const victimClient = await open();
  const bystanderClient = await open();
  const subClient = await open();
  const clients = [admin, victimClient, bystanderClient, subClient];
  const disconnects: string[] = [];
  for (const c of clients) c.on('disconnected', (info) => disconnects.push(`${info.code} ${info.reason}`));

  // An SDK consumer on the victim shard, a low-level subscription there (on an empty queue, so it
  // takes no message from the consumer), and one on the other shard.
  const consumed = new Set<string>();
  const consumer = await subClient.queue(VICTIM_SUB).consume((m) => void consumed.add(text(m)), { prefetch: 10 });
  const consumerEnd = outcome(consumer.done);
  const subEnds: string[] = [];
  const victimSub = await subClient.queue(VICTIM_POLL).subscribe({ credit: 1, onEnd: (e) => subEnds.push(`victim: ${e.code}`) }, () => {});
  const bystanderPushed = new Set<string>();
  const bystanderSub = await subClient.queue(BYSTANDER_SUB).subscribe(
    { credit: 1000, onEnd: (e) => subEnds.push(`bystander: ${e.code}`) },
    (ms) => ms.forEach((m) => bystanderPushed.add(text(m))),
  );
  const firstVictimSubId = victimSub.id;
  // Spy on the server's end of the subscription as the SDK gets it (the end frame's error).
  const serverEnds: FerryError[] = [];
  const ended = victimSub.ended.bind(victimSub);
  victimSub.ended = (err: FerryError): void => {
    serverEnds.push(err);
    ended(err);
  };
  const firstBystanderSubId = bystanderSub.id;
  await admin.queue(VICTIM_SUB).sendBatch(Array.from({ length: 20 }, (_, i) => `sub-before-${i}`));
  await waitFor(() => consumed.size === 20, { timeoutMs: 10_000, what: 'consumer got the first 20 messages' });

  const victimSends = sendLoops(victimClient, VICTIM, 4);
  const bystander = bystanderLoop(bystanderClient);
  t.teardown(() => {
    victimSends.stop();
    bystander.stop();
  });
  const longPoll = outcome(victimClient.queue(VICTIM_POLL).receive({ waitMs: 20_000 }));
  await waitFor(() => victimSends.acked.size >= 100 && bystander.opsAt.length >= 5, { timeoutMs: 10_000, what: 'traffic on both shards' });

  // The crash.
  const crashedAt = Date.now();
  const [crash, scrape] = await Promise.all([
    fetch(`${broker.httpUrl}/admin/shards/0/crash`, { method: 'POST' }),
    // A scrape asks every shard for its queue stats; one overlapping the crash must still be answered.
    within(fetch(`${broker.httpUrl}/metrics`), 5_000, 'GET /metrics during the crash'),
  ]);
  t.equal(crash.status, 202, 'crash accepted');
  t.equal(scrape.status, 200, '/metrics answered during the crash');
  const poll = await within(longPoll, 5_000, 'the long poll on the crashed shard settles');
  t.ok(!poll.ok && isShardUnavailable(poll.error), 'the 20 s long poll in flight fails at once with retryable ShardUnavailable');

  await waitFor(async () => (await status(`${broker.httpUrl}/readyz`)) === 200 && broker.output.split('\n').filter((l) => l.includes('"shard":0') && l.includes('shard ready')).length === 2,
    { timeoutMs: 15_000, what: 'shard 0 restarted and /readyz 200' });
  const readyAt = Date.now();
  t.match(broker.output, /"shard":0,"code":70,"msg":"shard worker died; restarting"/, 'the supervisor saw the worker die and restarted it');
  const ackedAtReady = victimSends.acked.size;
  await waitFor(() => victimSends.acked.size >= ackedAtReady + 50, { timeoutMs: 10_000, what: 'victim shard serving again' });

  // The SDK resubscribed both subscriptions of the crashed shard, without ending them.
  await waitFor(() => victimSub.live && victimSub.id !== firstVictimSubId, { timeoutMs: 10_000, what: 'low-level subscription made again' });
  t.same(serverEnds.map((e) => [e.code, e.retryable]), [[ErrorCodes.ShardUnavailable, true]], 'the server ended the subscription once, with retryable ShardUnavailable');
  await admin.queue(VICTIM_SUB).sendBatch(Array.from({ length: 20 }, (_, i) => `sub-after-${i}`));
  await waitFor(() => [...Array(20).keys()].every((i) => consumed.has(`sub-after-${i}`)), { timeoutMs: 10_000, what: 'consumer gets messages sent after the restart' });

  victimSends.stop();
  bystander.stop();
  await within(Promise.all([victimSends.done, bystander.done]), 15_000, 'client loops finish');

  // Requests in flight on the dying shard, and those sent while it restarted: retryable ShardUnavailable only.
  t.ok(victimSends.errors.length > 0, `${victimSends.errors.length} victim requests failed during the crash`);
  t.same(victimSends.errors.filter((e) => !isShardUnavailable(e)).map(String), [], 'every victim failure is a retryable ShardUnavailable');
  // The other shard: no error at all, and it kept answering while shard 0 was down.
  t.same(bystander.errors.map(String), [], 'the other shard answered every request');
  const duringOutage = bystander.opsAt.filter((at) => at > crashedAt && at < readyAt).length;
  t.ok(duringOutage > 0, `${duringOutage} bystander round trips completed while shard 0 was down`);
  await admin.queue(BYSTANDER_SUB).sendBatch(['bs-1', 'bs-2']);
  await waitFor(() => bystanderPushed.has('bs-1') && bystanderPushed.has('bs-2'), { timeoutMs: 5_000, what: 'bystander subscription still pushing' });
  t.equal(bystanderSub.id, firstBystanderSubId, 'the subscription on the other shard was never ended');
  t.same(subEnds, [], 'no subscription ended for good');
  t.same(disconnects, [], 'no client connection closed');

  // The crashed shard's queues came back from disk with every acknowledged message, exactly once.
  await consumer.close();
  t.ok((await consumerEnd).ok, 'the consumer ran until closed');
  await victimSub.unsubscribe();
  const drained = await drainQueue(admin, VICTIM);
  const counts = countOf(drained.map((m) => m.body));
  t.same([...counts].filter(([, c]) => c > 1), [], 'no message twice');
  const wanted = [...before, ...victimSends.acked];
  t.same(wanted.filter((id) => !counts.has(id)), [], `all ${wanted.length} acknowledged messages recovered`);
  t.same([...counts.keys()].filter((id) => !wanted.includes(id) && !victimSends.unknown.has(id)), [], 'nothing that was never sent');
  const leasedIds = new Set(leased.map(text));
  t.same(drained.filter((m) => leasedIds.has(m.body)).map((m) => m.receiveCount), Array(10).fill(2), 'leased messages are visible again, their delivery counted');
  t.comment(`${victimSends.unknown.size} ids were in failed requests; ${[...victimSends.unknown].filter((id) => counts.has(id)).length} of them were applied anyway`);

  await Promise.all(clients.map((c) => c.close()));
});

t.test('crash hook: an unknown shard is refused, and the hook is off by default', async (t) => {
  const broker = await startBroker(t, { shards: 1, args: ['--fault-injection'] });
  t.equal((await fetch(`${broker.httpUrl}/admin/shards/7/crash`, { method: 'POST' })).status, 404, 'no shard 7');
  t.equal((await fetch(`${broker.httpUrl}/admin/shards/x/crash`, { method: 'POST' })).status, 404, 'not a shard number');
  const plain = await startBroker(t, { shards: 1 });
  t.equal((await fetch(`${plain.httpUrl}/admin/shards/0/crash`, { method: 'POST' })).status, 404, 'no crash hook without --fault-injection');
  t.equal(await status(`${plain.httpUrl}/readyz`), 200, 'and the broker is untouched');
});

t.test('ShardPool: a request and a stats scrape sent as the worker dies are answered, never left hanging', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-pool-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const events = { shardUp: () => {}, shardDown: () => {}, push: () => {}, subEnd: () => {}, forward: () => {}, forwardDone: () => {} };
  const pool = new ShardPool({ dataDir, shards: 2, bodyCacheBytes: 1 << 20 }, pino({ level: 'silent' }), events);
  await within(pool.start(), 20_000, 'pool start');
  t.teardown(() => pool.close());

  // The crash message goes out at once; what follows in this turn reaches a worker that is exiting.
  t.ok(pool.crash(0), 'crash sent');
  const answer = new Promise<Answer>((resolve) => pool.request(0, (r) => ({
    t: 'req', r, qid: '0000000000000000', session: 1, req: { op: 'getQueueAttributes', args: { queue: 'q' } },
  }), resolve));
  const stats = pool.stats();
  const a = await within(answer, 5_000, 'request to the dying shard');
  t.ok('error' in a && a.error.code === ErrorCodes.ShardUnavailable && a.error.retryable === true, 'the request fails with retryable ShardUnavailable');
  t.same(await within(stats, 5_000, 'stats (a /metrics scrape) during the crash'), [], 'the scrape is answered (no queues)');
  await waitFor(() => pool.isUp(0), { timeoutMs: 15_000, what: 'shard 0 restarted' });
  t.same(await within(pool.stats(), 5_000, 'stats after the restart'), [], 'stats answered by both shards again');
});
