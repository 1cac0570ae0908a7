// ShardHost over a real ShardStore (RocksDB in a temp dir): group commit and held answers.
// No answer leaves the host before the synced batch holding the writes it reports is committed:
// accept() stages and holds, endTurn() commits once and only then hands the answers out; a turn
// whose commit fails hands out nothing, ever; and a process killed with SIGKILL right after
// answers were handed out still has every message those answers acknowledged.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve, join } from 'node:path';
import { ShardHost } from '../src/actors/shard-host.js';
import type { ToShard, QueueRequest } from '../src/actors/shard-messages.js';
import { ShardStore, StorageError } from '../src/storage/shard-store.js';
import type { DeliveredMessage, SendEntry } from '../src/protocol/ops.js';
import { answerTo, answersOf, type ShardAnswer } from './helpers/shard-answers.js';
import { SendPacker } from '../src/actors/packing.js';
import { countOf } from './helpers/drain.js';
import { waitFor, within } from './helpers/bounded.js';
import { sameHiddenClass } from './helpers/hidden-class.js';
import { QueueActor } from '../src/actors/queue-actor.js';

const QID = '0123456789abcdef';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-host-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openHost(dir: string, bodyCacheBytes = 1 << 20): Promise<{ store: ShardStore; host: ShardHost }> {
  const store = await ShardStore.open(dir);
  const host = new ShardHost(store, bodyCacheBytes);
  await host.recover(Date.now());
  return { store, host };
}

const req = (r: number, q: QueueRequest, session = 1): ToShard => ({ t: 'req', r, qid: QID, session, req: q });
const send = (r: number, body: string): ToShard => req(r, { op: 'send', args: { queue: 'q', body: Buffer.from(body) } });
const replyTo = answerTo;
/** The messages a reply carries (the host encodes them as CBOR for the main thread to splice). */
const messagesOf = (a: ShardAnswer | undefined): DeliveredMessage[] => {
  if (a?.t !== 'reply' || !a.encoded) throw new Error(`not an encoded reply: ${JSON.stringify(a)}`);
  return (a.result as { messages: DeliveredMessage[] }).messages;
};

t.test('answers are held through accept() and released by endTurn() after one synced commit', async (t) => {
  const { store, host } = await openHost(tempDir(t));
  t.teardown(() => store.close());
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  const syncsBefore = store.syncCount;
  t.same(host.endTurn(1).map((a) => a.t), ['reply'], 'create answered');
  t.equal(store.syncCount, syncsBefore + 1, 'after its commit');

  const syncs = store.syncCount;
  for (let r = 2; r < 52; r++) host.accept(send(r, `m${r}`), 2);
  host.accept(req(52, { op: 'sendBatch', args: { queue: 'q', entries: [{ body: Buffer.from('b1') }, { body: Buffer.from('b2') }] } }), 2);
  t.ok(store.staged > 0, 'the turn\'s writes are staged');
  t.equal(store.syncCount, syncs, 'and not yet committed: accept() never writes durably, and has no way to answer');

  const answers = host.endTurn(2);
  t.equal(store.syncCount, syncs + 1, '51 requests, one synced batch (group commit)');
  t.equal(store.staged, 0, 'nothing left uncommitted when the answers come out');
  t.equal(answersOf(answers).filter((a) => a.t === 'reply').length, 51, 'every request answered');
  t.same(host.endTurn(3), [], 'an answer is released once');
});

t.test('a turn of packed sends: each answered in order, batches encoded, an unknown queue refused, bodies stored', async (t) => {
  const { store, host } = await openHost(tempDir(t));
  t.teardown(() => store.close());
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  host.endTurn(1);
  const packer = new SendPacker();
  packer.add(2, QID, false, [{ body: Buffer.from('b1') }, { body: Buffer.from('b2'), delayMs: 60_000 }]);
  packer.add(3, 'ffffffffffffffff', false, [{ body: Buffer.from('lost') }]);
  packer.add(4, QID, true, [{ queue: 'q', body: Buffer.from('s1') } as SendEntry]);
  const syncs = store.syncCount;
  host.accept(packer.take(), 2);
  const answers = answersOf(host.endTurn(2));
  t.equal(store.syncCount, syncs + 1, 'one commit for the turn');
  t.same(answers.map((a) => [a.r, a.t]), [[2, 'reply'], [3, 'fail'], [4, 'reply']], 'answers in request order');
  const batch = answers[0]!.t === 'reply' ? (answers[0]!.result as { results: Array<{ ok?: { seq: number } }> }).results : [];
  t.same(batch.map((e) => e.ok?.seq), [0, 1], 'the batch: one result per entry');
  t.match(answers[1], { error: { code: 'QueueDoesNotExist', field: 'queue' } });
  t.match(answers[2], { t: 'reply', encoded: false, result: { seq: 2 } }, 'the single send answered as a send');
  host.accept(req(5, { op: 'receive', args: { queue: 'q', max: 10, visibilityMs: 60_000 } }), 3);
  const got = messagesOf(replyTo(host.endTurn(3), 5));
  t.same(got.map((m) => Buffer.from(m.body).toString()).sort(), ['b1', 's1'], 'bodies stored; the delayed entry kept its delay');
});

t.test('a long poll answered at endTurn is released only with the commit of the lease it reports', async (t) => {
  const dir = tempDir(t);
  let { store, host } = await openHost(dir);
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  host.endTurn(1);
  host.accept(req(2, { op: 'receive', args: { queue: 'q', waitMs: 10_000, visibilityMs: 60_000 } }), 10);
  t.same(host.endTurn(10), [], 'the long poll waits');
  const syncs = store.syncCount;
  host.accept(send(3, 'wake'), 20);
  const answers = host.endTurn(20);
  t.equal(store.syncCount, syncs + 1, 'send and lease share one synced batch');
  const polled = replyTo(answers, 2);
  t.ok(replyTo(answers, 3) !== undefined && polled !== undefined, 'both the send and the long poll are answered by that turn');
  const delivered = messagesOf(polled);
  t.same(delivered.map((m) => [Buffer.from(m.body).toString(), m.receiveCount]), [['wake', 1]]);

  // What the answer reported is on disk: after a restart, the delivery it counted is there.
  await store.close();
  ({ store, host } = await openHost(dir));
  t.teardown(() => store.close());
  host.accept(req(4, { op: 'receive', args: { queue: 'q' } }), 30);
  const again = messagesOf(replyTo(host.endTurn(30), 4));
  t.same(again.map((m) => [Buffer.from(m.body).toString(), m.receiveCount]), [['wake', 2]], 'the lease came back with its delivery counted');
});

t.test('a message whose body is not kept in memory is delivered with its body in the turn of its send', async (t) => {
  // Nothing fits the body cache: the body is read back from the store, before the turn's batch is
  // written (the store answers reads from its open batch).
  const store = await ShardStore.open(tempDir(t));
  t.teardown(() => store.close());
  const host = new ShardHost(store, 0);
  await host.recover(1);
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  host.endTurn(1);
  host.accept(send(2, 'not cached'), 2);
  host.accept(req(3, { op: 'receive', args: { queue: 'q' } }), 2);
  const answers = host.endTurn(2);
  t.same(messagesOf(replyTo(answers, 3)).map((m) => Buffer.from(m.body).toString()), ['not cached']);
});

t.test('a turn whose commit fails releases no answer, now or with a later turn', async (t) => {
  const { store, host } = await openHost(tempDir(t));
  t.teardown(() => store.close());
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  host.endTurn(1);
  // A failing fsync cannot be produced on demand: inject the failure at the store's commit, once.
  // (What happens to the staged writes does not matter here: the worker dies on this error and
  // recovers from disk. What is tested is that the failed turn's answers never leave the host.)
  const commit = store.commit.bind(store);
  store.commit = () => {
    store.commit = commit;
    throw new StorageError('injected: synced batch write failed');
  };
  host.accept(send(2, 'lost'), 2);
  t.throws(() => host.endTurn(2), StorageError, 'endTurn throws: the caller must die (the worker exits)');
  host.accept(send(3, 'next'), 3);
  const later = host.endTurn(3);
  t.equal(replyTo(later, 2), undefined, 'the failed turn\'s answer never leaves');
  t.ok(replyTo(later, 3) !== undefined, 'the next turn answers its own requests only');
});

t.test('SIGKILL right after answers are handed out loses none of the messages they acknowledged', async (t) => {
  const dir = tempDir(t);
  const host = resolve('dist/src/actors/shard-host.js');
  const storeModule = resolve('dist/src/storage/shard-store.js');
  // The child runs turns of 20 sends as fast as it can and prints each acknowledged body as soon as
  // endTurn hands its answer out (stdout to a pipe is synchronous on Linux). It never stops by itself
  // before the parent kills it (bounded by its turn count).
  const script = `
    const { ShardStore } = await import(${JSON.stringify(storeModule)});
    const { ShardHost } = await import(${JSON.stringify(host)});
    const store = await ShardStore.open(${JSON.stringify(dir)});
    const host = new ShardHost(store, 1 << 20);
    await host.recover(Date.now());
    host.accept({ t: 'create', r: 0, id: '${QID}', name: 'q', attributes: {}, createdAt: 1 }, Date.now());
    host.endTurn(Date.now());
    let r = 1;
    for (let turn = 0; turn < 20000; turn++) {
      const bodies = new Map();
      const now = Date.now();
      for (let i = 0; i < 20; i++) {
        const body = 't' + turn + '-' + i;
        bodies.set(r, body);
        host.accept({ t: 'req', r: r++, qid: '${QID}', session: 1, req: { op: 'send', args: { queue: 'q', body: Buffer.from(body) } } }, now);
      }
      const out = host.endTurn(now).filter((a) => a.t === 'reply').map((a) => bodies.get(a.r));
      process.stdout.write(out.join('\\n') + '\\n');
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise<NodeJS.Signals | null>((res) => child.once('exit', (_code, signal) => res(signal)));
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const acked = (): string[] => out.slice(0, out.lastIndexOf('\n') + 1).split('\n').filter((l) => l.length > 0);
  await waitFor(() => acked().length >= 500 || child.exitCode !== null, { timeoutMs: 20_000, what: 'child acknowledged 500 sends' });
  t.equal(child.exitCode, null, `the child is still writing ${err.slice(-500)}`);
  await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 50)));
  child.kill('SIGKILL');
  t.equal(await within(exited, 10_000, 'child exit'), 'SIGKILL');
  const ackedBodies = acked(); // complete lines only: all the child said before it died

  const store = await ShardStore.open(dir);
  t.teardown(() => store.close());
  const [queue] = await store.recover();
  const stored = queue!.messages.map((m) => Buffer.from(m.body!).toString());
  const counts = countOf(stored);
  t.same([...counts].filter(([, n]) => n > 1), [], 'no message stored twice');
  t.same(ackedBodies.filter((b) => !counts.has(b)), [], `all ${ackedBodies.length} acknowledged messages survived (${stored.length} stored)`);
});

t.test('a restart rebuilds a backlog far past the body cache: order, ids, bodies, attributes, delays and receive counts as before', async (t) => {
  const dir = tempDir(t);
  let { store, host } = await openHost(dir);
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  host.endTurn(1);
  const now = Date.now();
  const n = 3000;
  const ids: string[] = [];
  for (let b = 0; b < n / 100; b++) {
    const entries = Array.from({ length: 100 }, (_, i) => {
      const k = b * 100 + i;
      if (k === 1500) return { body: Buffer.from(`m${k}`), attributes: { k: 'v' } };
      if (k === 2000) return { body: Buffer.from(`m${k}`), delayMs: 60_000 };
      return { body: Buffer.from(`m${k}`) };
    });
    host.accept(req(10 + b, { op: 'sendBatch', args: { queue: 'q', entries } }), now);
    const reply = replyTo(host.endTurn(now), 10 + b);
    if (reply?.t !== 'reply') throw new Error('sendBatch not answered');
    for (const e of (reply.result as { results: Array<{ ok: { messageId: string } }> }).results) ids.push(e.ok.messageId);
  }
  host.accept(req(100, { op: 'receive', args: { queue: 'q', max: 10 } }), now);
  t.equal(messagesOf(replyTo(host.endTurn(now), 100)).length, 10, 'ten leased, never deleted, when the broker stops');
  await store.close();

  ({ store, host } = await openHost(dir, 4096)); // room for a few bodies only: the rest recover as plain backlog entries
  t.teardown(() => store.close());
  const got: DeliveredMessage[] = [];
  for (let r = 200; r < 300 && got.length < n - 1; r++) {
    host.accept(req(r, { op: 'receive', args: { queue: 'q', max: 1000, visibilityMs: 600_000 } }), now + 1);
    got.push(...messagesOf(replyTo(host.endTurn(now + 1), r)));
  }
  const expected = ids.filter((_, k) => k !== 2000);
  t.equal(got.length, n - 1, 'every visible message, once');
  t.same(got.map((m) => m.messageId), expected, 'in acceptance order, with the ids they were sent with');
  t.equal(got.filter((m, i) => Buffer.from(m.body).toString() !== `m${i < 2000 ? i : i + 1}`).length, 0, 'every body');
  t.same(got.slice(0, 10).map((m) => m.receiveCount), [2, 2, 2, 2, 2, 2, 2, 2, 2, 2], 'a message leased at the stop counts that delivery');
  // The delivered mark is written ahead of the deliveries (up to 4,096, never past the last message
  // sent: queue-actor.ts DELIVERED_MARK_AHEAD), so the next in line may count one delivery too.
  t.ok(got.every((m) => m.receiveCount <= 2), 'none counts more than the one earlier delivery it may have had');
  t.equal(got.find((m) => m.messageId === ids[1500])?.attributes?.k, 'v', 'attributes kept');
  t.equal(got.filter((m) => m.sentAt !== now).length, 0, 'send times kept');
  host.tick(now + 60_001);
  host.accept(req(400, { op: 'receive', args: { queue: 'q', max: 10 } }), now + 60_001);
  t.same(messagesOf(replyTo(host.endTurn(now + 60_001), 400)).map((m) => m.messageId), [ids[2000]], 'the delayed one after its delay');
});

t.test('requests reach the actor as the objects that arrived, with one hidden class per shape (not one per request)', async (t) => {
  const { store, host } = await openHost(tempDir(t));
  t.teardown(() => store.close());
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  host.endTurn(1);
  const seen: Array<{ ref: number; session?: number; sub?: number; args: object }> = [];
  const handle = QueueActor.prototype.handle;
  QueueActor.prototype.handle = function (this: QueueActor<number>, req, now) {
    seen.push(req as (typeof seen)[number]);
    return handle.call(this, req, now);
  };
  t.teardown(() => {
    QueueActor.prototype.handle = handle;
  });
  // `req` messages as the main thread's arrive (a structured clone each), then packed single sends.
  for (let r = 10; r < 3010; r++) host.accept(structuredClone(req(r, { op: 'getQueueAttributes', args: { queue: 'q' } }, 7)), 2);
  const packer = new SendPacker();
  for (let r = 3010; r < 6010; r++) packer.add(r, QID, true, [{ queue: 'q', body: Buffer.from(`s${r}`) } as SendEntry]);
  host.accept(structuredClone(packer.take()), 2);
  const answers = answersOf(host.endTurn(2));
  t.equal(answers.length, 6000);
  t.equal(answers.filter((a) => a.t === 'reply').length, 6000, 'every request answered');
  const [a, b] = seen.slice(2998, 3000);
  t.same([a!.ref, a!.session, a!.sub, b!.ref], [3008, 7, 0, 3009], 'reference, session and subscription set on the request');
  t.ok(sameHiddenClass(a!, b!), 'two requests of one shape share their hidden class');
  const [c, d] = seen.slice(-2);
  t.same([c!.ref, (c!.args as { queue: string }).queue, d!.ref], [6008, 'q', 6009]);
  t.ok(sameHiddenClass(c!.args, d!.args), 'and so do two single sends\' arguments');
});
