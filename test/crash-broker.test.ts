// Issue 2, "Proof": producers send as fast as they can while the broker process is killed with
// SIGKILL at random moments, several rounds over the same data directory (and a last round stopped
// with SIGTERM instead). After each restart:
//  - every acknowledged message is there exactly once (unacknowledged ones may or may not be);
//  - nothing is duplicated, and nothing appears that was never sent;
//  - messages received or pushed (leased) but not deleted before the kill are visible again at once,
//    their delivery counted; a message pushed before its send was answered (docs/protocol.md,
//    "Delivery guarantees") may be gone with its send, and if it is back, its delivery is counted;
//  - messages whose delete was acknowledged never come back, in this round or any later one.
// The kill lands in the middle of a burst of synced sendBatch writes: an ack is only sent after
// the group commit's fdatasync, so none may be lost (shared/ARCHITECTURE.md, "Delivery").
import t from 'tap';
import { connect, ErrorCodes, FerryError, type FerryClient, type QueueClient } from '../src/client/index.js';
import { startBroker, type BrokerProcess } from './helpers/broker.js';
import { outcome, waitFor, within } from './helpers/bounded.js';
import { countOf, drainQueue } from './helpers/drain.js';

/** The `t` a subtest gets. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const ROUNDS = 5;
const QUEUES = ['crash-a', 'crash-b'] as const;
const PRODUCER_CLIENTS = 2;
const LOOPS_PER_CLIENT = 3;
const BATCH = 25;
/** Leases taken during the burst outlast the test: only a restart can make them visible again. */
const LEASE_MS = 10 * 60 * 1000;

/**
 * What the test knows of each message id. `acked`, `leased`, `deleted` and `refused` (a send
 * answered ShuttingDown, which docs/protocol.md says was not applied) are certain; `sending` and
 * `deleting` are requests whose reply was lost in the kill (may or may not apply); `pushed` was
 * pushed before its send was answered (may or may not survive, like `sending`).
 */
type Fate = 'sending' | 'acked' | 'leased' | 'pushed' | 'deleting' | 'deleted' | 'refused';

class Ledger {
  readonly fate = new Map<string, Fate>();
  queueOf = new Map<string, string>();

  sending(id: string, queue: string): void {
    this.fate.set(id, 'sending');
    this.queueOf.set(id, queue);
  }

  acked(id: string): void {
    // A receive may have seen the message before its send reply arrived: keep the stronger fact.
    const f = this.fate.get(id);
    if (f === 'sending') this.fate.set(id, 'acked');
    else if (f === 'pushed') this.fate.set(id, 'leased'); // now durable, and its delivery with it
  }

  /** Received (a receive reply waits for the commit): it must survive, whatever its send reply did. */
  leased(id: string): void {
    const f = this.fate.get(id);
    if (f === 'sending' || f === 'acked' || f === 'pushed') this.fate.set(id, 'leased');
  }

  /**
   * Pushed: a push of a message sent in the batch not yet written leaves before the commit, so
   * one whose send is unanswered may be lost with it; once the send is answered it must survive.
   */
  pushed(id: string): void {
    const f = this.fate.get(id);
    if (f === 'acked') this.fate.set(id, 'leased');
    else if (f === 'sending') this.fate.set(id, 'pushed');
  }

  /** A send answered with an error that says it was not applied. */
  refused(ids: string[], err: unknown): void {
    if (!(err instanceof FerryError) || err.code !== ErrorCodes.ShuttingDown) return;
    for (const id of ids) if (this.fate.get(id) === 'sending') this.fate.set(id, 'refused');
  }

  count(f: Fate): number {
    let n = 0;
    for (const v of this.fate.values()) if (v === f) n++;
    return n;
  }
}

interface Burst {
  stop: () => void;
  /** Settles when every request the burst made has settled (call it after the broker stopped). */
  settled: () => Promise<unknown>;
  /** How the requests that ended each loop failed (the connection went away). */
  cutOff: unknown[];
}

/** Producer loops (send and sendBatch, several in flight per connection) until stopped or cut off. */
function produce(clients: FerryClient[], ledger: Ledger, round: number): Burst {
  let stopped = false;
  let n = 0;
  const cutOff: unknown[] = [];
  const loops: Array<Promise<void>> = [];
  clients.forEach((client, c) => {
    for (let l = 0; l < LOOPS_PER_CLIENT; l++) {
      loops.push((async () => {
        for (let i = 0; !stopped; i++) {
          const queue = QUEUES[(c + l + i) % QUEUES.length]!;
          const ids = Array.from({ length: i % 2 === 0 ? 1 : BATCH }, () => `r${round}-c${c}-l${l}-${n++}`);
          for (const id of ids) ledger.sending(id, queue);
          const q = client.queue(queue);
          if (ids.length === 1) {
            const sent = await outcome(q.send(ids[0]!));
            if (!sent.ok) return void (cutOff.push(sent.error), ledger.refused(ids, sent.error)); // else "sending" (unknown)
            ledger.acked(ids[0]!);
          } else {
            const sent = await outcome(q.sendBatch(ids));
            if (!sent.ok) return void (cutOff.push(sent.error), ledger.refused(ids, sent.error));
            sent.value.forEach((r, k) => {
              if (!('ok' in r)) throw new Error(`send of ${ids[k]} was refused: ${JSON.stringify(r.error)}`);
              ledger.acked(ids[k]!);
            });
          }
        }
      })());
    }
  });
  const done = Promise.all(loops);
  return { stop: () => (stopped = true), settled: () => done, cutOff };
}

/** A consumer that leases messages for a long time and deletes every other one. */
function consume(client: FerryClient, ledger: Ledger): Burst {
  let stopped = false;
  const cutOff: unknown[] = [];
  const loop = async (): Promise<void> => {
    for (let i = 0; !stopped; i++) {
      const queue = QUEUES[i % QUEUES.length]!;
      const got = await outcome(client.queue(queue).receive({ max: 20, visibilityMs: LEASE_MS, waitMs: 50 }));
      if (!got.ok) return void cutOff.push(got.error);
      const ids = got.value.map((m) => Buffer.from(m.body).toString());
      for (const id of ids) {
        if (ledger.fate.get(id) === 'deleted') throw new Error(`${id} was delivered after its delete was acknowledged`);
        ledger.leased(id);
      }
      const toDelete = got.value.filter((_, k) => k % 2 === 0);
      if (toDelete.length === 0) continue;
      for (const m of toDelete) ledger.fate.set(Buffer.from(m.body).toString(), 'deleting');
      const deleted = await outcome(client.queue(queue).deleteBatch(toDelete.map((m) => m.receipt)));
      if (!deleted.ok) return void cutOff.push(deleted.error); // these ids stay "deleting" (unknown)
      recordDeletes(ledger, toDelete.map((m) => Buffer.from(m.body).toString()), deleted.value);
    }
  };
  const done = loop();
  return { stop: () => (stopped = true), settled: () => done, cutOff };
}

/** Applies one deleteBatch's outcome to the ledger. */
function recordDeletes(ledger: Ledger, ids: string[], results: Awaited<ReturnType<QueueClient['deleteBatch']>>): void {
  results.forEach((r, k) => {
    if (!('ok' in r) || !r.ok.deleted) throw new Error(`delete of ${ids[k]} failed: ${JSON.stringify(r)}`);
    ledger.fate.set(ids[k]!, 'deleted');
  });
}

/**
 * A push subscriber on every queue: marks what it is pushed (Ledger.pushed), deletes every other
 * message and grants the credit back.
 */
async function subscribeAll(client: FerryClient, ledger: Ledger): Promise<Burst> {
  const cutOff: unknown[] = [];
  const deletes: Array<Promise<void>> = [];
  const violations: string[] = [];
  for (const queue of QUEUES) {
    await client.queue(queue).subscribe({ credit: 20, visibilityMs: LEASE_MS }, (messages, sub) => {
      const ids = messages.map((m) => Buffer.from(m.body).toString());
      for (const id of ids) {
        if (ledger.fate.get(id) === 'deleted') violations.push(`${id} was pushed after its delete was acknowledged`);
        ledger.pushed(id);
      }
      const toDelete = messages.filter((_, k) => k % 2 === 1);
      const deleteIds = toDelete.map((m) => Buffer.from(m.body).toString());
      for (const id of deleteIds) ledger.fate.set(id, 'deleting');
      if (toDelete.length > 0) {
        deletes.push(client.queue(queue).deleteBatch(toDelete.map((m) => m.receipt)).then(
          (results) => recordDeletes(ledger, deleteIds, results),
          (err: unknown) => void cutOff.push(err), // these ids stay "deleting" (unknown)
        ));
      }
      sub.credit(messages.length);
    });
  }
  return {
    stop: () => {},
    settled: async () => {
      await Promise.all(deletes);
      if (violations.length > 0) throw new Error(violations.join('; '));
    },
    cutOff,
  };
}

/**
 * One round: a burst of producers and a consumer, the broker stopped by `signal` at a random moment
 * into it, restarted on the same directory, and every queue drained and checked against the ledger.
 * Returns how many leased-but-undeleted messages came back, and how the cut-off requests failed.
 */
async function round(t: TapTest, broker: BrokerProcess, ledger: Ledger, n: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<{ leased: number; cutOff: unknown[] }> {
  const opts = { reconnect: false, requestTimeoutMs: 10_000 } as const;
  const producers = await Promise.all(Array.from({ length: PRODUCER_CLIENTS }, () => connect(broker.url, opts)));
  const consumer = await connect(broker.url, opts);
  const subscriber = await connect(broker.url, opts);
  const ackedBefore = ledger.count('acked') + ledger.count('leased');
  const bursts = [await subscribeAll(subscriber, ledger), produce(producers, ledger, n), consume(consumer, ledger)];

  // Stop at a random moment once the burst is under way (some sends acknowledged).
  await waitFor(() => ledger.count('acked') + ledger.count('leased') >= ackedBefore + 100, { timeoutMs: 10_000, what: `round ${n}: first acks` });
  const extraMs = Math.floor(Math.random() * 300);
  await new Promise((r) => setTimeout(r, extraMs));
  const exit = await within(broker.stop(signal), 10_000, signal);
  t.same(exit, signal === 'SIGKILL' ? { code: null, signal } : { code: 0, signal: null }, `round ${n}: ${signal} ${extraMs} ms into the burst`);

  // Every request in flight settles, none hangs.
  await within(Promise.all(bursts.map((b) => b.settled())), 10_000, `round ${n}: producers and consumers settle after the ${signal}`);
  for (const b of bursts) b.stop();
  await Promise.all([...producers, consumer, subscriber].map((c) => c.close()));

  await within(broker.start(), 20_000, `round ${n}: restart`);
  const verifier = await connect(broker.url, { reconnect: false });
  t.same((await verifier.listQueues()).queues, [...QUEUES], `round ${n}: both queues recovered`);
  const drained = [];
  for (const q of QUEUES) drained.push(...(await drainQueue(verifier, q)).map((m) => ({ ...m, queue: q })));

  const counts = countOf(drained.map((m) => m.body));
  t.same([...counts].filter(([, c]) => c > 1), [], `round ${n}: no message is there twice`);
  const unexpected = drained.filter((m) => {
    const f = ledger.fate.get(m.body);
    return f === undefined || f === 'deleted' || f === 'refused' || ledger.queueOf.get(m.body) !== m.queue;
  });
  t.same(unexpected.map((m) => `${m.body}:${ledger.fate.get(m.body) ?? 'never sent'}`), [], `round ${n}: nothing deleted, refused or never sent is there`);
  const missing = [...ledger.fate].filter(([id, f]) => (f === 'acked' || f === 'leased') && !counts.has(id)).map(([id, f]) => `${id}:${f}`);
  t.same(missing, [], `round ${n}: every acknowledged message is there`);
  const leased = drained.filter((m) => ledger.fate.get(m.body) === 'leased');
  t.ok(leased.every((m) => m.receiveCount >= 2), `round ${n}: ${leased.length} leased-but-undeleted messages are visible again, their earlier delivery counted`);
  const pushedBack = drained.filter((m) => ledger.fate.get(m.body) === 'pushed');
  t.ok(pushedBack.every((m) => m.receiveCount >= 2), `round ${n}: ${pushedBack.length} of ${ledger.count('pushed')} pushed before their send was answered are back, each with its delivery counted`);
  t.comment(`round ${n}: ${drained.length} recovered; cut off: ${ledger.count('sending')} sends unanswered, ${ledger.count('refused')} refused, ${ledger.count('deleting')} deletes unanswered`);

  // What the drain deleted, and every unknown that did not survive, is gone for good.
  for (const [id, f] of ledger.fate) if (f !== 'deleted') ledger.fate.set(id, 'deleted');
  const attrs = await Promise.all(QUEUES.map((q) => verifier.getQueueAttributes(q)));
  t.same(attrs.map((a) => a.stats.visible + a.stats.leased + a.stats.delayed), [0, 0], `round ${n}: queues empty after the drain`);
  await verifier.close();
  return { leased: leased.length, cutOff: bursts.flatMap((b) => b.cutOff) };
}

t.test('SIGKILL during a synced send burst loses no acknowledged message, duplicates none, and brings leases back; so does SIGTERM', async (t) => {
  const broker = await startBroker(t, { shards: 2 });
  const admin = await connect(broker.url, { reconnect: false });
  for (const q of QUEUES) await admin.createQueue(q);
  await admin.close();
  const ledger = new Ledger();
  let leasedAcrossRounds = 0;
  for (let n = 1; n <= ROUNDS; n++) leasedAcrossRounds += (await round(t, broker, ledger, n, 'SIGKILL')).leased;
  t.ok(leasedAcrossRounds > 0, `leases were cut by kills (${leasedAcrossRounds} in all)`);

  // A clean stop in the middle of the same kind of burst: exit 0, the same guarantees, and the
  // requests it cuts off fail with a retryable code.
  const { cutOff } = await round(t, broker, ledger, ROUNDS + 1, 'SIGTERM');
  const codes = new Set(cutOff.map((e) => (e instanceof FerryError ? e.code : String(e))));
  t.same([...codes].filter((c) => c !== ErrorCodes.ShuttingDown && c !== ErrorCodes.ConnectionClosed), [],
    `requests cut off by SIGTERM fail with ShuttingDown or ConnectionClosed only (${[...codes].join(', ')})`);
  t.ok(ledger.fate.size > 0, `${ledger.fate.size} message ids tracked`);
});

t.test('a message deleted before a kill never comes back; one received but not deleted does', async (t) => {
  const broker = await startBroker(t, { shards: 1 });
  const client = await connect(broker.url, { reconnect: false });
  const q = client.queue('kept-or-gone');
  await client.createQueue('kept-or-gone');
  await q.sendBatch(['deleted-1', 'deleted-2', 'leased-1', 'leased-2', 'untouched']);
  const got = await q.receive({ max: 4, visibilityMs: LEASE_MS });
  t.same(got.map((m) => Buffer.from(m.body).toString()), ['deleted-1', 'deleted-2', 'leased-1', 'leased-2'], 'four leased');
  t.ok(await q.delete(got[0]!.receipt), 'one deleted by delete');
  const batch = await q.deleteBatch([got[1]!.receipt]);
  t.same(batch, [{ ok: { deleted: true } }], 'one deleted by deleteBatch');
  await broker.kill();
  const err = await outcome(q.send('after the kill'));
  t.ok(!err.ok && err.error instanceof FerryError && err.error.retryable, 'a request after the kill fails, retryable');
  await client.close();

  await broker.start();
  const again = await connect(broker.url, { reconnect: false });
  const drained = await drainQueue(again, 'kept-or-gone');
  t.same(drained.map((m) => m.body).sort(), ['leased-1', 'leased-2', 'untouched'], 'the deleted two are gone, the leased two are back');
  t.same(drained.filter((m) => m.body.startsWith('leased')).map((m) => m.receiveCount), [2, 2], 'the first delivery was counted durably');
  await again.close();
});

t.test('SIGKILL while a producer sends single messages at a steady rate: every acknowledged one survives', async (t) => {
  // Shards pipeline turns with fsync (storage/wal-syncer.ts): small turns, each written without a
  // sync and acknowledged only once the syncer's fdatasync covered it. A steady trickle of single
  // sends keeps several such turns in flight at the moment of the kill, in three rounds.
  const broker = await startBroker(t, { shards: 2 });
  const admin = await connect(broker.url, { reconnect: false });
  await admin.createQueue('steady');
  await admin.close();
  const acked = new Set<string>();
  const sent = new Set<string>();
  for (let n = 1; n <= 3; n++) {
    const producer = await connect(broker.url, { reconnect: false, requestTimeoutMs: 10_000 });
    const q = producer.queue('steady');
    let stopped = false;
    const inFlight = new Set<Promise<void>>();
    // One send every 2 ms, at most 20 unanswered: ~500 msg/s, far below what a shard sustains.
    const ticker = (async () => {
      for (let i = 0; !stopped && i < 50_000; i++) {
        const body = `s${n}-${i}`;
        sent.add(body);
        const p: Promise<void> = outcome(q.send(body)).then((r) => {
          if (r.ok) acked.add(body);
          inFlight.delete(p);
        });
        inFlight.add(p);
        await new Promise((r) => setTimeout(r, 2));
        while (inFlight.size >= 20 && !stopped) await Promise.race(inFlight);
      }
    })();
    const before = acked.size;
    await waitFor(() => acked.size >= before + 200, { timeoutMs: 20_000, what: `round ${n}: 200 sends acknowledged` });
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 100)));
    const unanswered = inFlight.size;
    t.same(await within(broker.kill(), 10_000, 'SIGKILL'), { code: null, signal: 'SIGKILL' }, `round ${n}: killed with ${unanswered} sends unanswered`);
    stopped = true;
    await within(Promise.all([ticker, ...inFlight]), 15_000, `round ${n}: every send settles`);
    await producer.close();

    await within(broker.start(), 20_000, `round ${n}: restart`);
    const verifier = await connect(broker.url, { reconnect: false });
    const drained = (await drainQueue(verifier, 'steady')).map((m) => m.body);
    await verifier.close();
    const counts = countOf(drained);
    t.same([...counts].filter(([, c]) => c > 1), [], `round ${n}: no message twice`);
    t.same(drained.filter((b) => !sent.has(b)), [], `round ${n}: nothing never sent`);
    t.same([...acked].filter((b) => !counts.has(b)), [], `round ${n}: all ${acked.size} acknowledged messages are there (${drained.length} drained)`);
    acked.clear(); // drained (deleted): the next round starts from an empty queue
  }
});
