// Moves between queues across a failover (docs/cluster.md, "Moves between queues"): messages are
// dead-lettered by ttl expiry from a source to a DLQ led by another node, and the leader of one of
// the two is killed with SIGKILL while they move. After the failover every message is in the DLQ
// exactly once: the new source leader replays its outbox, the target's markers (replicated with
// it) make replays no-ops, and no move was acknowledged to the source before the target's write
// was replicated. Real processes, real etcd.
import t from 'tap';
import type * as Tap from 'tap';
import { connect } from '../src/client/index.js';
import { queueMeta, startCluster, waitFor, waitForMembers } from './helpers/cluster.js';
import { countOf, drainQueue } from './helpers/drain.js';
import { count, leaders, waitForCount } from './helpers/moves.js';

/**
 * Dead-letters `n` messages from `src` to `dlq` (led by different nodes) by ttl expiry spread over
 * a few seconds, kills -9 the leader of `victim` once some have arrived, and checks that after
 * the failover every message is in the DLQ exactly once.
 */
async function killDuringDeadLettering(t: Tap.Test, victim: 'dlq' | 'src'): Promise<void> {
  const cluster = await startCluster(t, 3);
  await waitForMembers(cluster);
  const admin = await connect(cluster.nodes[0]!.url, { reconnect: false, requestTimeoutMs: 30_000 });
  await admin.createQueue('dlq');
  await admin.createQueue('src', { deadLetter: { queue: 'dlq', maxReceives: 1 } });
  await admin.close();
  const [dlqLeader, srcLeader] = await leaders(cluster, ['dlq', 'src']);
  t.not(dlqLeader, srcLeader, 'the source and its DLQ are led by different nodes');
  const killed = victim === 'dlq' ? dlqLeader! : srcLeader!;
  // The client uses every other node as a seed, so it survives the kill.
  const seeds = cluster.nodes.filter((_, i) => `n${i + 1}` !== killed).map((n) => n.url);
  const client = await connect(seeds, { requestTimeoutMs: 30_000 });
  t.teardown(() => client.close());

  const n = 300;
  const bodies = Array.from({ length: n }, (_, i) => `m${i}`);
  // Expiries spread over about 3 s from the first one, 1 s after the send.
  for (let i = 0; i < n; i += 100) {
    await client.queue('src').sendBatch(bodies.slice(i, i + 100).map((body, j) => ({ body, ttlMs: 1000 + (i + j) * 10 })));
  }
  const arrived = await waitFor('the first dead letters', async () => {
    const c = await count(client, 'dlq');
    return c >= 20 ? c : undefined;
  });
  await cluster.nodes[Number(killed.slice(1)) - 1]!.kill();
  t.ok(arrived < n, `killed while messages were moving (${arrived} of ${n} had arrived)`);
  await waitFor(`a new leader of ${victim}`, async () => {
    const meta = await queueMeta(cluster.etcd.url, victim);
    return meta !== undefined && meta.leader !== killed ? true : undefined;
  });

  await waitForCount(client, 'dlq', n, 60_000);
  t.equal(await count(client, 'src'), 0, 'the source kept none');
  const drained = await drainQueue(client, 'dlq');
  const counts = countOf(drained.map((m) => m.body));
  t.equal(drained.length, n, 'no message arrived twice');
  t.same([...counts.keys()].sort(), [...bodies].sort(), 'every message arrived');
  t.equal([...counts.values()].every((c) => c === 1), true, 'each exactly once');
  // Nothing comes later either (a replayed move would show up within the retry period).
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(await count(client, 'dlq'), 0, 'no late duplicate');
}

t.test('kill -9 of the DLQ\'s leader while messages are dead-lettered: each arrives exactly once', (t) => killDuringDeadLettering(t, 'dlq'));

t.test('kill -9 of the source\'s leader while messages are dead-lettered: each arrives exactly once', (t) => killDuringDeadLettering(t, 'src'));
