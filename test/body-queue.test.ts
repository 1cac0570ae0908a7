// The backlog's body queue (body-queue.ts): bodies of plain queued messages packed in chunks,
// counted against the shard's body cache at their own rate, taken out in sequence order. Then the
// actor with it: bodies kept are delivered from memory, the rest read from the store, and the
// cache's count comes back to zero once every message is gone (deleted, purged, expired, moved).
import t from 'tap';
import { BodyQueue } from '../src/actors/body-queue.js';
import { BodyCache, CACHED_BODY_OVERHEAD, QUEUED_BODY_OVERHEAD } from '../src/actors/ports.js';
import type { DeliveredMessage, QueueAttributes } from '../src/protocol/ops.js';
import type { StoredMessage } from '../src/storage/records.js';
import { actorHarness, MemoryStore, text } from './helpers/actor.js';

const body = (n: number, size = 256): Uint8Array => new Uint8Array(size).fill(n % 251);

t.test('push and take in sequence order; views hold the bytes pushed', async (t) => {
  const cache = new BodyCache(1 << 20);
  const q = new BodyQueue(cache);
  const sizes = [1, 300, 0, 5000, 2000, 70_000, 3, 256];
  sizes.forEach((size, i) => t.ok(q.push(10 + i, body(i, size)), `kept ${size} bytes`));
  t.equal(q.length, sizes.length);
  t.equal(cache.bytes, sizes.reduce((n, s) => n + s + QUEUED_BODY_OVERHEAD, 0), 'counted at the queued rate');
  sizes.forEach((size, i) => {
    const b = q.take(10 + i);
    t.same(b, body(i, size), `body ${i} (${size} bytes)`);
  });
  t.equal(q.length, 0);
  t.equal(cache.bytes, 0, 'every body released');
  t.equal(q.take(99), undefined, 'empty');
});

t.test('take answers undefined for a sequence it does not keep, and drops older ones', async (t) => {
  const cache = new BodyCache(1 << 20);
  const q = new BodyQueue(cache);
  q.push(2, body(2));
  q.push(5, body(5));
  q.push(6, body(6));
  t.equal(q.take(1), undefined, 'not kept (its body was not admitted)');
  t.equal(q.length, 3, 'a later body is not dropped');
  t.same(q.take(5), body(5), 'seq 2 is older: dropped on the way');
  t.equal(q.length, 1);
  t.equal(cache.bytes, 256 + QUEUED_BODY_OVERHEAD, 'the dropped one was released too');
  q.clear();
  t.equal(cache.bytes, 0);
  t.equal(q.length, 0);
  t.equal(q.take(6), undefined);
});

t.test('refuses past the budget; a taken body stays valid while later chunks come and go', async (t) => {
  const cache = new BodyCache(10 * (256 + QUEUED_BODY_OVERHEAD));
  const q = new BodyQueue(cache);
  for (let i = 0; i < 10; i++) t.ok(q.push(i, body(i)));
  t.notOk(q.push(10, body(10)), 'the eleventh does not fit');
  const first = q.take(0)!;
  t.ok(q.push(11, body(11)), 'room again');
  for (let i = 1; i < 10; i++) t.same(q.take(i), body(i));
  t.equal(q.take(10), undefined, 'never kept');
  t.same(q.take(11), body(11));
  t.same(first, body(0), 'a view keeps its chunk');
  t.equal(cache.bytes, 0);
});

/** An actor over a store that counts the messages read back from it. */
function setup(cacheBytes: number, attrs: Partial<QueueAttributes> = {}) {
  class CountingStore extends MemoryStore {
    reads = 0;
    override readMessages(seqs: readonly number[]): Array<StoredMessage | undefined> {
      this.reads += seqs.length;
      return super.readMessages(seqs);
    }
  }
  const h = actorHarness(attrs, { cacheBytes, store: new CountingStore() });
  const { call, ok } = h;
  const sendBatch = (from: number, n: number, now: number) =>
    ok(call({ op: 'sendBatch', args: { queue: 'q', entries: Array.from({ length: n }, (_, i) => ({ body: Buffer.from(`m${from + i}`.padEnd(100, '.')) })) } }, now));
  const receive = (max: number, now: number) => ok<{ messages: DeliveredMessage[] }>(call({ op: 'receive', args: { queue: 'q', max } }, now)).messages;
  const deleteAll = (ms: DeliveredMessage[], now: number) => ok(call({ op: 'deleteBatch', args: { queue: 'q', receipts: ms.map((m) => m.receipt) } }, now));
  return { store: h.store, cache: h.bodies, actor: h.actor, call, ok, sendBatch, receive, deleteAll };
}

t.test('actor: bodies kept are delivered from memory, the rest from the store, in order', async (t) => {
  // Room for 30 bodies of 100 bytes at the queued rate (not 30 at the full message rate).
  const q = setup(30 * (100 + QUEUED_BODY_OVERHEAD));
  t.ok(30 * (100 + QUEUED_BODY_OVERHEAD) < 12 * (100 + CACHED_BODY_OVERHEAD), 'the same budget would have held 11 as message objects');
  q.sendBatch(0, 50, 0);
  t.equal(q.cache.bytes, 30 * (100 + QUEUED_BODY_OVERHEAD), '30 bodies kept');
  const got = q.receive(50, 1);
  t.same(got.map((m) => text(m).replace(/\.+$/, '')), Array.from({ length: 50 }, (_, i) => `m${i}`), 'every body, in order');
  t.same(got.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => i));
  t.equal(q.store.reads, 20, 'only the 20 bodies past the budget were read back');
  t.equal(q.cache.bytes, 30 * (100 + CACHED_BODY_OVERHEAD), 'delivered: the 30 count as message bodies now (past the budget)');
  t.notOk(q.cache.admit(1), 'the cache refuses new bodies until they are released');
  q.deleteAll(got, 2);
  t.equal(q.cache.bytes, 0, 'all released by the acks');
  // Ids: derived from the sequence whether the body came from memory or from the store.
  t.equal(new Set(got.map((m) => m.messageId)).size, 50);
});

t.test('actor: purge, expiry and a lease that ends all account for the kept bodies', async (t) => {
  const q = setup(1 << 20, { retentionMs: 60_000, visibilityMs: 1000 });
  q.sendBatch(0, 10, 0);
  t.equal(q.cache.bytes, 10 * (100 + QUEUED_BODY_OVERHEAD));
  q.ok(q.call({ op: 'purgeQueue' }, 1));
  t.equal(q.cache.bytes, 0, 'purge released them');

  q.sendBatch(10, 10, 1000);
  const [m] = q.receive(1, 1001);
  t.equal(text(m!).replace(/\.+$/, ''), 'm10');
  q.actor.tick(3000); // the lease ends: visible again, its body still in memory
  q.actor.endTurn(3000);
  const again = q.receive(10, 3001);
  t.equal(again.length, 10);
  t.equal(again[0]!.seq, m!.seq, 'the message whose lease ended comes first');
  t.equal(again[0]!.receiveCount, 2);
  t.equal(text(again[0]!), text(m!), 'same body');
  t.equal(q.store.reads, 0, 'no body read back');
  q.deleteAll(again, 3002);
  t.equal(q.cache.bytes, 0);

  q.sendBatch(20, 5, 10_000);
  q.actor.tick(10_000 + 60_000); // retention: all five expire
  q.actor.endTurn(70_000);
  t.match(q.actor.stats(70_000), { messages: 0, expired: 5 });
  t.equal(q.cache.bytes, 0, 'expired bodies released');
});

t.test('actor: after a restart the recovered bodies are kept again, and delivered whole', async (t) => {
  const h = actorHarness({}, { cacheBytes: 3 * (100 + QUEUED_BODY_OVERHEAD) });
  for (let i = 0; i < 5; i++) h.send(`r${i}`.padEnd(100, '-'), i);
  h.restart(10);
  const got = h.receive(10, { max: 10 });
  t.same(got.map((m) => text(m).replace(/-+$/, '')), ['r0', 'r1', 'r2', 'r3', 'r4'], 'three from memory, two read back');
  t.same(got.map((m) => m.receiveCount), [1, 1, 1, 1, 1]);
});

t.test('sequences far apart (past 2^32) and near 2^53 keep their bodies and their order', async (t) => {
  const cache = new BodyCache(1 << 20);
  const q = new BodyQueue(cache);
  const seqs = [0, 1, 2 ** 32 - 1 + 1, 2 ** 32 + 5, 2 ** 40, 2 ** 53 - 3, 2 ** 53 - 2];
  seqs.forEach((s, i) => t.ok(q.push(s, body(i, 100 + i))));
  t.equal(q.take(2), undefined, 'not kept; seqs 0 and 1 are dropped on the way');
  t.equal(q.length, seqs.length - 2);
  t.same(q.take(2 ** 32), body(2, 102), 'a difference of exactly 2^32 − 1');
  t.equal(q.take(2 ** 32 + 4), undefined, 'not kept, and the next one stays');
  t.same(q.take(2 ** 32 + 5), body(3, 103));
  t.same(q.take(2 ** 40), body(4, 104), 'a difference past 2^32 starts a chunk of its own');
  t.same(q.take(2 ** 53 - 3), body(5, 105));
  t.same(q.take(2 ** 53 - 2), body(6, 106));
  t.equal(q.length, 0);
  t.equal(cache.bytes, 0, 'every body released');
});

t.test('clear releases what is left of partly taken chunks', async (t) => {
  const cache = new BodyCache(1 << 22);
  const q = new BodyQueue(cache);
  for (let i = 0; i < 100; i++) t.ok(q.push(i, body(i, 10 + i * 7)), `kept ${i}`);
  for (let i = 0; i < 30; i++) t.same(q.take(i), body(i, 10 + i * 7));
  q.clear();
  t.equal(cache.bytes, 0, 'the 70 left were released');
  t.equal(q.length, 0);
  t.ok(q.push(100, body(100)), 'usable after a clear');
  t.same(q.take(100), body(100));
});
