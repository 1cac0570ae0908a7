// Failover with real processes: kill -9 the leader of a busy queue, twice. Every acknowledged send
// is delivered afterwards, no acknowledged delete comes back, and the producer (the SDK with every
// node as a seed, retrying retryable errors) is never stalled for long; the longest gap between
// acknowledgements across each kill is reported as the measured failover time.
import t from 'tap';
import { connect, FerryError, type FerryClient } from '../src/client/index.js';
import { queueMeta, startCluster, waitFor } from './helpers/cluster.js';

const QUEUE = 'busy';

/** Sends until stopped, 4 in flight, retrying each send on retryable errors; records what was acknowledged. */
function startProducer(client: FerryClient, acked: Set<string>, ackTimes: number[]): { stop(): Promise<void>; errors: string[] } {
  let stopped = false;
  let n = 0;
  const errors: string[] = [];
  const worker = async (w: number): Promise<void> => {
    while (!stopped) {
      const body = `w${w}-${n++}`;
      for (let attempt = 0; !stopped; attempt++) {
        try {
          await client.queue(QUEUE).send(body);
          acked.add(body);
          ackTimes.push(Date.now());
          break;
        } catch (err) {
          if (!(err instanceof FerryError) || !err.retryable || attempt > 200) {
            errors.push(String(err));
            stopped = true;
            return;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  };
  const running = Promise.all([0, 1, 2, 3].map(worker));
  return {
    errors,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** The longest time without an acknowledgement from `at` on (the kill) — the failover as the producer sees it. */
function maxGapAfter(times: number[], at: number): number {
  const after = times.filter((x) => x >= at).sort((a, b) => a - b);
  let gap = 0;
  let prev = at;
  for (const x of after) {
    gap = Math.max(gap, x - prev);
    prev = x;
  }
  return gap;
}

async function ackedAfter(ackTimes: number[], at: number, count: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${count} acknowledgements after ${at}`, async () => (ackTimes.filter((x) => x > at).length >= count ? true : undefined), timeoutMs);
}

t.test('kill -9 the leader twice under load: nothing acknowledged is lost, nothing deleted returns', async (t) => {
  const cluster = await startCluster(t, 3);
  const seeds = cluster.urls();
  const producer = await connect(seeds, { requestTimeoutMs: 10_000, backoff: { initialMs: 50, maxMs: 500 } });
  t.teardown(() => producer.close());
  await producer.createQueue(QUEUE);

  // Phase 1: some messages, half of them received and deleted (those must never come back).
  const acked = new Set<string>();
  const ackTimes: number[] = [];
  for (let i = 0; i < 100; i++) {
    await producer.queue(QUEUE).send(`p1-${i}`);
    acked.add(`p1-${i}`);
  }
  const deleted = new Set<string>();
  while (deleted.size < 50) {
    const msgs = await producer.queue(QUEUE).receive({ max: 50 - deleted.size });
    for (const m of msgs) {
      t.equal(await producer.queue(QUEUE).delete(m.receipt), true);
      deleted.add(Buffer.from(m.body).toString());
    }
  }

  const load = startProducer(producer, acked, ackTimes);
  const gaps: number[] = [];
  for (let round = 1; round <= 2; round++) {
    await ackedAfter(ackTimes, Date.now(), 200);
    const before = await queueMeta(cluster.etcd.url, QUEUE);
    t.ok(before, 'queue has a leader');
    const victimIndex = Number(before!.leader.slice(1)) - 1;
    const victim = cluster.nodes[victimIndex]!;
    // A client on a surviving node sends across the failover without retrying: its node forwards
    // to the leader and retries on the new one, so the client sees no error at all.
    const bystander = await connect(cluster.nodes[(victimIndex + 1) % 3]!.url, { reconnect: false, requestTimeoutMs: 30_000 });
    const killedAt = Date.now();
    await victim.kill();
    const across = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => bystander.queue(QUEUE).send(`across-${round}-${i}`)));
    t.same(across.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), [], `round ${round}: sends through a surviving node all succeed`);
    across.forEach((_, i) => acked.add(`across-${round}-${i}`));
    await bystander.close();
    const after = await waitFor('a new leader', async () => {
      const m = await queueMeta(cluster.etcd.url, QUEUE);
      return m !== undefined && m.epoch > before!.epoch && m.leader !== before!.leader ? m : undefined;
    });
    t.not(after.leader, before!.leader, `round ${round}: ${before!.leader} → ${after.leader} (epoch ${after.epoch})`);
    await ackedAfter(ackTimes, Date.now(), 200);
    const gap = maxGapAfter(ackTimes, killedAt);
    gaps.push(gap);
    t.comment(`round ${round}: longest gap between acknowledged sends across the kill: ${gap} ms`);
    t.ok(gap < 20_000, 'the producer resumed after the failover');
    await victim.start(); // rejoins as a follower and is brought up to date by its new leader
  }
  await load.stop();
  t.same(load.errors, [], 'the producer never saw a non-retryable error');

  // Drain through every node in turn: every acknowledged, undeleted message is there.
  const consumer = await connect(seeds, { requestTimeoutMs: 10_000 });
  t.teardown(() => consumer.close());
  const received = new Set<string>();
  let empty = 0;
  for (let i = 0; i < 500 && empty < 3; i++) {
    const msgs = await consumer.queue(QUEUE).receive({ max: 100, waitMs: 200 });
    if (msgs.length === 0) empty++;
    else empty = 0;
    for (const m of msgs) received.add(Buffer.from(m.body).toString());
    if (msgs.length > 0) await consumer.queue(QUEUE).deleteBatch(msgs.map((m) => m.receipt));
  }
  const missing = [...acked].filter((b) => !deleted.has(b) && !received.has(b));
  t.same(missing, [], `every acknowledged message is delivered (${acked.size} acknowledged, ${received.size} received)`);
  const resurrected = [...deleted].filter((b) => received.has(b));
  t.same(resurrected, [], 'no deleted message came back');
  t.comment(`failover gaps: ${gaps.join(', ')} ms`);
});
