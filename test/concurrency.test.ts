// Many clients at once on several queues over two shards: producers (send and sendBatch) and
// consumers (receive+deleteBatch loops and consume()) all running together. Every message is
// delivered, none lost, none deleted twice. Bounded: 50 connections, 6000 messages, 60 s.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { RawSocket, waitFor } from './helpers/raw-socket.js';
import { connect, type FerryClient } from '../src/client/index.js';

const QUEUES = ['cc-0', 'cc-1', 'cc-2', 'cc-3', 'cc-4'];
const PRODUCERS = 30;
const POLLERS = 15;
const CONSUMERS = 5;
const PER_PRODUCER = 200;
const DEADLINE_MS = 60_000;

const text = (b: Uint8Array): string => Buffer.from(b).toString();

t.test('50 connections, 5 queues: every message delivered once, none lost', async (t) => {
  const broker = await startBroker(t, { shards: 2 });
  const clients: FerryClient[] = await Promise.all(
    Array.from({ length: PRODUCERS + POLLERS + CONSUMERS }, () => connect(broker.url, { reconnect: false })),
  );
  t.teardown(() => Promise.all(clients.map((c) => c.close())));
  await Promise.all(QUEUES.map((q) => clients[0]!.createQueue(q, { visibilityMs: 120_000 })));

  const sent = new Map<string, string>(); // body → queue
  /** Body → how many times a delete of it succeeded (must end at exactly 1 each). */
  const deleted = new Map<string, number>();
  const deadline = Date.now() + DEADLINE_MS;
  const total = PRODUCERS * PER_PRODUCER;
  const done = (): boolean => deleted.size >= total || Date.now() > deadline;
  const countDeleted = (bodies: string[], results: Array<{ ok: { deleted: boolean } } | { error: unknown }>): void => {
    results.forEach((r, i) => {
      if ('ok' in r && r.ok.deleted) deleted.set(bodies[i]!, (deleted.get(bodies[i]!) ?? 0) + 1);
    });
  };

  const producers = clients.slice(0, PRODUCERS).map(async (c, p) => {
    const queue = QUEUES[p % QUEUES.length]!;
    const q = c.queue(queue);
    for (let i = 0; i < PER_PRODUCER;) {
      // Alternate single sends (several in flight at once) and batches of 20.
      if (i % 40 === 0) {
        const batch = Array.from({ length: 20 }, (_, k) => `p${p}-${i + k}`);
        const results = await q.sendBatch(batch);
        results.forEach((r, k) => {
          if ('ok' in r) sent.set(batch[k]!, queue);
          else throw new Error(`send failed: ${JSON.stringify(r.error)}`);
        });
        i += 20;
      } else {
        const burst = Array.from({ length: Math.min(10, PER_PRODUCER - i) }, (_, k) => `p${p}-${i + k}`);
        await Promise.all(burst.map(async (b) => {
          await q.send(b);
          sent.set(b, queue);
        }));
        i += burst.length;
      }
    }
  });

  const pollers = clients.slice(PRODUCERS, PRODUCERS + POLLERS).map(async (c, n) => {
    const q = c.queue(QUEUES[n % QUEUES.length]!);
    while (!done()) {
      const got = await q.receive({ max: 25, waitMs: 200 });
      if (got.length === 0) continue;
      countDeleted(got.map((m) => text(m.body)), await q.deleteBatch(got.map((m) => m.receipt)));
    }
  });

  const consumers = await Promise.all(clients.slice(PRODUCERS + POLLERS).map((c, n) => c.queue(QUEUES[n % QUEUES.length]!).consume(async (m) => {
    // consume() acks by deleteBatch when this resolves; count the body here and check the
    // deletes through the queue stats below (its acks are not visible to us one by one).
    const body = text(m.body);
    deleted.set(body, (deleted.get(body) ?? 0) + 1);
  }, { prefetch: 20 })));

  await Promise.all(producers);
  t.equal(sent.size, total, 'every send acknowledged');
  await Promise.all(pollers);
  await Promise.all(consumers.map((c) => c.close()));

  t.equal(deleted.size, total, 'every message delivered and deleted');
  const twice = [...deleted].filter(([, n]) => n !== 1).map(([b]) => b);
  t.same(twice, [], 'no message handled twice');
  t.same([...deleted.keys()].filter((b) => !sent.has(b)), [], 'nothing that was not sent');

  // Nothing is left, in any state, on any queue.
  for (const queue of QUEUES) {
    let stats = (await clients[0]!.getQueueAttributes(queue)).stats;
    for (let i = 0; i < 100 && stats.visible + stats.leased + stats.delayed > 0; i++) {
      await new Promise((r) => setTimeout(r, 20)); // consume()'s last acks land
      stats = (await clients[0]!.getQueueAttributes(queue)).stats;
    }
    t.match(stats, { visible: 0, leased: 0, delayed: 0, bytes: 0 }, `${queue} is empty`);
  }
});

t.test('subscribers that come and go: abandoned leases come back, every message deleted once', async (t) => {
  const broker = await startBroker(t, { shards: 2 });
  const client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  await client.createQueue('cc-churn', { visibilityMs: 600_000 });
  const bodies = Array.from({ length: 1000 }, (_, i) => `c${i}`);
  for (let i = 0; i < bodies.length; i += 250) await client.queue('cc-churn').sendBatch(bodies.slice(i, i + 250));

  const deletedBy = new Map<string, number>();
  const deleteCounted = async (s: RawSocket, receipts: string[], names: string[]): Promise<void> => {
    const { results } = await s.ok<{ results: Array<{ ok?: { deleted: boolean } }> }>('deleteBatch', { queue: 'cc-churn', receipts });
    results.forEach((r, i) => {
      if (r.ok?.deleted) deletedBy.set(names[i]!, (deletedBy.get(names[i]!) ?? 0) + 1);
    });
  };
  // Rounds of 5 sockets at once: each takes 40, deletes half, and drops (no close frame) holding
  // the other half, ten-minute leases and all. The broker must free those at once.
  for (let round = 0; round < 12 && deletedBy.size < bodies.length; round++) {
    await Promise.all(Array.from({ length: 5 }, async () => {
      const s = await RawSocket.open(broker.url);
      const { sub } = await s.ok<{ sub: number }>('subscribe', { queue: 'cc-churn', credit: 40 });
      // Take what comes: 40, or what is left when the queue runs low.
      await waitFor('pushes to settle', () => (s.pushedTo(sub).length >= 40 ? true : undefined), 1000).catch(() => undefined);
      const got = s.pushedTo(sub);
      const keep = got.filter((_, i) => i % 2 === 0);
      if (keep.length > 0) await deleteCounted(s, keep.map((m) => m.receipt), keep.map((m) => Buffer.from(m.body).toString()));
      s.terminate();
    }));
  }
  // Drain what is left with plain receives.
  const q = client.queue('cc-churn');
  const deadline = Date.now() + 30_000;
  while (deletedBy.size < bodies.length && Date.now() < deadline) {
    const got = await q.receive({ max: 100, waitMs: 1000 });
    const results = await (got.length > 0 ? q.deleteBatch(got.map((m) => m.receipt)) : Promise.resolve([]));
    results.forEach((r, i) => {
      const name = Buffer.from(got[i]!.body).toString();
      if ('ok' in r && r.ok.deleted) deletedBy.set(name, (deletedBy.get(name) ?? 0) + 1);
    });
  }
  t.equal(deletedBy.size, bodies.length, 'every message deleted');
  t.same([...deletedBy].filter(([, n]) => n !== 1), [], 'none deleted twice');
  t.match((await q.attributes()).stats, { visible: 0, leased: 0, delayed: 0 });
});
