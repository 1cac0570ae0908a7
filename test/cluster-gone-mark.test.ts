// Acks in sequence order in a cluster: the leader stages the gone mark instead of a delete per
// message (queue-actor.ts #settleRemovals), and the mark reaches the followers in the replication
// log. After kill -9 of the leader, the follower promoted to leader does not deliver an acked
// message again and delivers every unacked one; and no node's store keeps a key of an acked
// message once it stopped (followers clear below the mark as the leader does).
import t from 'tap';
import { connect, type DeliveredMessage } from '../src/client/index.js';
import { PREFIX, readSeq } from '../src/storage/keys.js';
import type { BrokerProcess } from './helpers/broker.js';
import { clusterStatus, queueMeta, startCluster, storedQueueKeys, waitFor } from './helpers/cluster.js';
import { countOf, drainQueue } from './helpers/drain.js';

const QUEUE = 'in-order';
const LEASE_MS = 10 * 60 * 1000;

/** Sequences of the message keys a stopped node's store holds for `qid` (shards: 1). */
async function storedSeqs(node: BrokerProcess, qid: string): Promise<number[]> {
  return (await storedQueueKeys(node, qid)).filter(([k]) => k[0] === PREFIX.message).map(([k]) => readSeq(k, 9));
}

t.test('a new leader does not redeliver messages acked below the mark; no node keeps their keys', async (t) => {
  const cluster = await startCluster(t, 3);
  const client = await connect(cluster.urls(), { requestTimeoutMs: 30_000 });
  t.teardown(() => client.close());
  await client.createQueue(QUEUE);
  const sent: string[] = [];
  for (let b = 0; b < 30; b++) {
    const bodies = Array.from({ length: 100 }, (_, i) => `m-${b * 100 + i}`);
    await client.queue(QUEUE).sendBatch(bodies.map((body) => ({ body })));
    sent.push(...bodies);
  }
  const got: DeliveredMessage[] = [];
  for (let i = 0; i < 20 && got.length < 3000; i++) {
    const r = await client.request('receive', { queue: QUEUE, max: 1000, visibilityMs: LEASE_MS, waitMs: 0 });
    got.push(...r.messages);
  }
  t.equal(got.length, 3000, 'every message received once');
  t.same(got.map((m) => m.seq), got.map((_, i) => i), 'in sequence order');
  // Acks in order, 500 a request: the mark moves past 2600 (two range clears on the way).
  const acked = new Set<string>();
  for (let i = 0; i < 2600; i += 500) {
    const slice = got.slice(i, Math.min(i + 500, 2600));
    const results = await client.queue(QUEUE).deleteBatch(slice.map((m) => m.receipt));
    t.equal(results.filter((r) => 'ok' in r && r.ok.deleted).length, slice.length, `acks ${i}..${i + slice.length - 1}`);
    for (const m of slice) acked.add(Buffer.from(m.body).toString());
  }
  const before = (await queueMeta(cluster.etcd.url, QUEUE))!;
  // Every replica holds the leader's last entry (the acks' mark) before the leader dies.
  await waitFor('every replica to hold the leader\'s mark', async () => {
    const all = await Promise.all(cluster.nodes.map(clusterStatus));
    const marks = all.map((s) => s?.queues.find((q) => q.name === QUEUE)?.mark);
    const leaderMark = marks[Number(before.leader.slice(1)) - 1];
    return leaderMark !== undefined && marks.every((m) => m !== undefined && m.epoch === leaderMark.epoch && m.seq === leaderMark.seq) ? true : undefined;
  });

  const victim = cluster.nodes[Number(before.leader.slice(1)) - 1]!;
  await victim.kill();
  const after = await waitFor('a new leader', async () => {
    const m = await queueMeta(cluster.etcd.url, QUEUE);
    return m !== undefined && m.epoch > before.epoch && m.leader !== before.leader ? m : undefined;
  }, 30_000);
  t.not(after.leader, before.leader, `${before.leader} → ${after.leader}`);

  const left = (await drainQueue(client, QUEUE, { timeoutMs: 30_000 })).map((d) => d.body);
  t.same([...countOf(left)].filter(([, n]) => n > 1), [], 'no message twice');
  t.same(left.filter((b) => acked.has(b)), [], 'no acked message delivered by the new leader');
  t.same(left.slice().sort(), sent.filter((b) => !acked.has(b)).sort(), 'every unacked message delivered (their leases ended with the old leader)');

  // The old leader rejoins and catches up; then every node stops and its store is read.
  await victim.start();
  await waitFor('every replica to hold the new leader\'s mark', async () => {
    const all = await Promise.all(cluster.nodes.map(clusterStatus));
    const marks = all.map((s) => s?.queues.find((q) => q.name === QUEUE)?.mark);
    const leaderMark = marks[Number(after.leader.slice(1)) - 1];
    return leaderMark !== undefined && marks.every((m) => m !== undefined && m.epoch === leaderMark.epoch && m.seq === leaderMark.seq) ? true : undefined;
  }, 30_000);
  for (const node of cluster.nodes) await node.stop();
  for (const [i, node] of cluster.nodes.entries()) {
    t.same(await storedSeqs(node, before.id), [], `n${i + 1} keeps no message key of the drained queue`);
  }
});
