// A network partition of a queue's leader from the rest of the cluster and from etcd, made with
// fault-injecting TCP proxies in front of every node's peer port and every node's etcd connection
// (helpers/partition.ts). (test/cluster-peer-partition.test.ts cuts the peer links only.) The old
// leader stops acknowledging, the majority side fails over and keeps accepting, and after healing
// the old leader rejoins as a follower and all three copies agree.
import t from 'tap';
import { connect, FerryError } from '../src/client/index.js';
import { clusterStatus, queueMeta, waitFor } from './helpers/cluster.js';
import { startProxiedCluster } from './helpers/partition.js';

t.test('partition the leader: it stops acknowledging, the majority fails over, logs agree after healing', async (t) => {
  const { etcd, nodes, isolate, heal } = await startProxiedCluster(t);
  const admin = await connect(nodes[0]!.url, { reconnect: false });
  t.teardown(() => admin.close());
  await admin.createQueue('part');
  await admin.close();
  const before = (await queueMeta(etcd.url, 'part'))!;
  const k = Number(before.leader.slice(1)) - 1;
  const others = [0, 1, 2].filter((i) => i !== k);
  const majority = await connect(others.map((i) => nodes[i]!.url), { requestTimeoutMs: 30_000 });
  t.teardown(() => majority.close());
  const isolated = await connect(nodes[k]!.url, { reconnect: false, requestTimeoutMs: 30_000 });
  t.teardown(() => isolated.close());

  const acked = new Set<string>();
  for (let i = 0; i < 50; i++) {
    await majority.queue('part').send(`before-${i}`);
    acked.add(`before-${i}`);
  }

  // The partition: nothing reaches the leader, nothing leaves it for the others, no etcd for it.
  isolate(k, { etcd: true });

  const onTheIsolatedSide = await Promise.allSettled([0, 1, 2].map((i) => isolated.queue('part').send(`isolated-${i}`)));
  t.same(onTheIsolatedSide.map((r) => r.status), ['rejected', 'rejected', 'rejected'], 'the isolated old leader acknowledges nothing');
  for (const r of onTheIsolatedSide) {
    const code = r.status === 'rejected' ? (r.reason as FerryError).code : 'none';
    t.ok(['NotEnoughReplicas', 'NotLeader', 'ConnectionClosed'].includes(code), `refused with ${code}`);
  }

  const after = await waitFor('a new leader on the majority side', async () => {
    const m = await queueMeta(etcd.url, 'part');
    return m !== undefined && m.epoch > before.epoch && m.leader !== before.leader ? m : undefined;
  }, 30_000);
  t.not(after.leader, before.leader, `the majority promoted ${after.leader} (epoch ${after.epoch})`);
  for (let i = 0; i < 50; i++) {
    await majority.queue('part').send(`during-${i}`);
    acked.add(`during-${i}`);
  }
  t.pass('the majority side accepts sends during the partition');

  // Heal. The old leader lost its lease: it exits by itself (code 75) and is started again.
  heal();
  await waitFor('the isolated node to exit after losing its lease', async () => (nodes[k]!.running ? undefined : true), 30_000);
  const exit = await nodes[k]!.stop();
  t.equal(exit.code, 75, 'it exited with code 75 (membership lost)');
  await nodes[k]!.start();

  await majority.queue('part').send('after-heal');
  acked.add('after-heal');
  const agreed = await waitFor('all three copies to agree', async () => {
    const all = await Promise.all(nodes.map(clusterStatus));
    const marks = all.map((s) => s?.queues.find((q) => q.name === 'part')?.mark);
    if (marks.some((m) => m === undefined)) return undefined;
    return marks.every((m) => m!.epoch === marks[0]!.epoch && m!.seq === marks[0]!.seq) ? { marks, all } : undefined;
  }, 30_000);
  t.equal(agreed.all[k]!.queues.find((q) => q.name === 'part')!.role, 'follower', 'the old leader is a follower now');
  t.comment(`marks after healing: ${JSON.stringify(agreed.marks)}`);

  const received = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const msgs = await majority.queue('part').receive({ max: 100, waitMs: 200 });
    if (msgs.length === 0) break;
    for (const m of msgs) received.add(Buffer.from(m.body).toString());
    await majority.queue('part').deleteBatch(msgs.map((m) => m.receipt));
  }
  t.same([...acked].filter((b) => !received.has(b)), [], `every acknowledged message is there (${acked.size})`);
  t.same([...received].filter((b) => b.startsWith('isolated-')), [], 'nothing the isolated leader refused was delivered');
});
