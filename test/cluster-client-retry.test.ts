// The SDK's own retries (src/client/retry.ts) across a failover: a client connected to the node
// that leads the queue keeps producing (sends with dedup ids) and consuming (receive + deleteBatch)
// while that node is killed with SIGKILL — no call surfaces an error, the client moves to another
// seed, and every acknowledged send is there exactly once afterwards.
import t from 'tap';
import { connect } from '../src/client/index.js';
import { queueMeta, startCluster, waitFor } from './helpers/cluster.js';
import { countOf } from './helpers/drain.js';

const QUEUE = 'sturdy';

t.test('a client whose node is killed keeps working without surfacing an error', async (t) => {
  const cluster = await startCluster(t, 3);
  const admin = await connect(cluster.urls(), { requestTimeoutMs: 30_000 });
  t.teardown(() => admin.close());
  // Dedup ids protect retried sends inside the window; short leases bring back what a lost receive leased.
  await admin.createQueue(QUEUE, { dedupWindowMs: 300_000, visibilityMs: 2000 });
  const meta = (await queueMeta(cluster.etcd.url, QUEUE))!;
  const k = Number(meta.leader.slice(1)) - 1;
  const seeds = [cluster.nodes[k]!.url, ...cluster.nodes.filter((_, i) => i !== k).map((n) => n.url)];
  const client = await connect(seeds, { requestTimeoutMs: 30_000 });
  t.teardown(() => client.close());
  t.equal(client.url, cluster.nodes[k]!.url, 'connected to the leader\'s node');

  const errors: unknown[] = [];
  const acked: string[] = [];
  const ackTimes: number[] = [];
  const received: string[] = [];
  /** Message ids per body: two ids for one body would mean the send was stored twice. */
  const ids = new Map<string, Set<string>>();
  const saw = (m: { body: Uint8Array; messageId: string }): void => {
    const body = Buffer.from(m.body).toString();
    received.push(body);
    if (!ids.has(body)) ids.set(body, new Set());
    ids.get(body)!.add(m.messageId);
  };
  let stop = false;
  const producer = (async () => {
    for (let i = 0; !stop; i++) {
      const body = `m-${i}`;
      try {
        await client.queue(QUEUE).send(body, { dedupId: body });
        acked.push(body);
        ackTimes.push(Date.now());
      } catch (err) {
        errors.push(err);
        return;
      }
    }
  })();
  const consumer = (async () => {
    while (!stop) {
      try {
        const msgs = await client.queue(QUEUE).receive({ max: 10, waitMs: 200 });
        for (const m of msgs) saw(m);
        if (msgs.length > 0) await client.queue(QUEUE).deleteBatch(msgs.map((m) => m.receipt));
      } catch (err) {
        errors.push(err);
        return;
      }
    }
  })();

  await waitFor('50 sends before the kill', async () => (acked.length >= 50 ? true : undefined), 30_000);
  const killedAt = Date.now();
  await cluster.nodes[k]!.kill();
  await waitFor('50 sends after the kill (or an error)', async () => (errors.length > 0 || ackTimes.filter((x) => x > killedAt).length >= 50 ? true : undefined), 60_000);
  stop = true;
  await Promise.all([producer, consumer]);
  t.same(errors.map(String), [], 'no call surfaced an error');
  t.not(client.url, cluster.nodes[k]!.url, `the client moved to ${client.url}`);
  const after = ackTimes.filter((x) => x >= killedAt);
  t.comment(`first send acknowledged ${after[0]! - killedAt} ms after the kill (${acked.length} sends in all)`);

  // Whatever a lost receive leased comes back after its 2 s lease: drain until everything acknowledged was seen.
  await waitFor('every acknowledged send to be received', async () => {
    const msgs = await client.queue(QUEUE).receive({ max: 100, waitMs: 500 });
    for (const m of msgs) saw(m);
    if (msgs.length > 0) await client.queue(QUEUE).deleteBatch(msgs.map((m) => m.receipt));
    const seen = new Set(received);
    return acked.every((b) => seen.has(b)) && msgs.length === 0 ? true : undefined;
  }, 60_000);
  const counts = countOf(received);
  t.same([...counts.keys()].filter((b) => !acked.includes(b)), [], 'nothing that was not acknowledged');
  const repeats = [...counts.values()].filter((n) => n > 1).length;
  t.comment(`${repeats} messages were delivered more than once (leases lost with the killed node: at-least-once)`);
  t.same([...ids].filter(([, set]) => set.size > 1).map(([b]) => b), [], 'each send was stored once (retried sends carried their dedup id)');
});
