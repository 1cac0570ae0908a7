// Turns pipelined with fsync (storage/wal-syncer.ts, actors/held-turns.ts): a shard writes each
// turn's batch without a sync, its syncer thread makes the writes durable, and nothing a turn
// produced leaves before that:
//  - HeldTurns releases a turn only once its write is durable, strictly in turn order;
//  - ShardHost with deferSync holds every reply (even of a turn that wrote nothing but may rest
//    on an earlier write) until the store is told the write is durable; pushes (and the subscribe
//    reply they follow) leave with their turn (docs/delivery.md);
//  - a real shard worker, under strace: between a request and its reply an fdatasync ran that
//    began after the request was sent (so it covers the request's write), and a closed worker
//    leaves no thread behind (the process ends by itself).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { HeldTurns } from '../src/actors/held-turns.js';
import { ShardHost } from '../src/actors/shard-host.js';
import { ShardStore } from '../src/storage/shard-store.js';
import type { FromShard, ToShard } from '../src/actors/shard-messages.js';

const QID = '0123456789abcdef';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-syncer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const send = (r: number, body: string): ToShard => ({ t: 'req', r, qid: QID, session: 1, req: { op: 'send', args: { queue: 'q', body: Buffer.from(body) } } });
const refs = (answers: FromShard[]): number[] => answers.map((a) => ('r' in a ? a.r : -1));

t.test('HeldTurns: a turn leaves once its write is durable, and never before an earlier turn', async (t) => {
  const held = new HeldTurns<string>();
  held.hold(1, ['a1']);
  held.hold(2, ['b1', 'b2']);
  held.hold(2, ['c1']); // wrote nothing: rests on write 2
  held.hold(3, []); // nothing to answer: nothing held
  held.hold(4, ['d1']);
  t.notOk(held.ready(0), 'not ready before write 1 is durable');
  t.ok(held.ready(1), 'ready once it is');
  t.same(held.release(0), [], 'nothing durable yet');
  t.same(held.release(1), ['a1']);
  t.same(held.release(3), ['b1', 'b2', 'c1'], 'in turn order, through the durable write');
  t.ok(held.holding);
  t.same(held.release(3), [], 'released once');
  t.same(held.release(9), ['d1']);
  t.notOk(held.holding);
});

t.test('ShardHost with deferSync: answers wait for markDurable, in turn order; no sync on the shard thread', async (t) => {
  const store = await ShardStore.open(tempDir(t));
  t.teardown(() => store.close());
  const host = new ShardHost(store, 1 << 20, false, { deferSync: true });
  await host.recover(1);
  const syncs = store.syncCount;
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  t.same(host.endTurn(1), [], 'the create is written but not durable: no answer');
  t.equal(store.syncCount, syncs, 'the write was not synced on this thread');
  t.ok(host.holding);
  store.markDurable(store.written);
  t.same(refs(host.released()), [1], 'released once durable');

  host.accept(send(2, 'first'), 2);
  t.same(host.endTurn(2), []);
  const first = store.written;
  host.accept(send(3, 'second'), 3);
  t.same(host.endTurn(3), []);
  t.equal(store.written, first + 1, 'one write per turn');
  host.accept({ t: 'stats', r: 4 }, 4);
  t.same(host.endTurn(4), [], 'a turn that wrote nothing still waits: what it reports rests on earlier writes');
  t.equal(store.written, first + 1, 'the stats turn wrote nothing');
  store.markDurable(first);
  t.same(refs(host.released()), [2], 'only the turn whose write is durable');
  store.markDurable(first + 1);
  t.same(refs(host.released()), [3, 4], 'then the rest, in turn order');
  t.notOk(host.holding);
  host.accept({ t: 'stats', r: 5 }, 5);
  t.same(refs(host.endTurn(5)), [5], 'with nothing pending, a turn that wrote nothing answers at once');
});

t.test('ShardHost with deferSync: a push of messages still in the open batch leaves with its turn; other pushes and every reply wait', async (t) => {
  const store = await ShardStore.open(tempDir(t));
  t.teardown(() => store.close());
  const host = new ShardHost(store, 1 << 20, false, { deferSync: true });
  await host.recover(1);
  const STREAM_QID = 'fedcba9876543210';
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  host.accept({ t: 'create', r: 2, id: STREAM_QID, name: 's', attributes: { mode: 'stream' }, createdAt: 1 }, 1);
  host.endTurn(1);
  store.markDurable(store.written);
  t.same(refs(host.released()), [1, 2]);

  host.accept(send(3, 'backlog'), 2);
  t.same(host.endTurn(2), [], 'a send is not answered before its write is durable');
  const backlogWrite = store.written;
  host.accept({ t: 'req', r: 4, qid: QID, session: 5, sub: 1, req: { op: 'subscribe', args: { queue: 'q', credit: 10 } } }, 3);
  t.same(refs(host.endTurn(3)), [4], 'the subscribe reply leaves at once');
  t.ok(host.holding, 'the push of the message written in an earlier turn waits');
  store.markDurable(backlogWrite);
  t.same(refs(host.released()), [3], 'the send reply once its write is durable');
  store.markDurable(store.written);
  t.same(host.released().map((a) => a.t), ['push'], 'the push once its turn\'s write (the delivered mark) is durable');

  host.accept(send(5, 'fresh'), 4);
  const fresh = host.endTurn(4);
  t.same(fresh.map((a) => a.t), ['push'], 'a message sent to a waiting subscriber: pushed in the turn of its send');
  t.match(fresh[0], { t: 'push', session: 5, sub: 1, count: 1 });
  t.ok(store.durable < store.written, 'before its write is durable');

  // A sync in flight: the next turns stage into the open batch, and a message sent there is
  // still unwritten when a later turn pushes it.
  t.equal(store.syncRequest(), store.written, 'a sync is asked for');
  host.accept({ t: 'req', r: 6, qid: QID, session: 6, sub: 2, req: { op: 'subscribe', args: { queue: 'q', credit: 1 } } }, 5);
  host.accept(send(7, 'a'), 5);
  host.accept(send(8, 'b'), 5);
  const shared = host.endTurn(5);
  t.same(shared.map((a) => a.t), ['reply', 'push', 'push'], 'the subscribe reply and pushes of the two messages still in the open batch');
  t.ok(host.holding, 'the send replies wait for the sync');
  store.markDurable(store.written);
  store.flush();
  store.markDurable(store.written);
  t.same(refs(host.released()), [5, 7, 8], 'then the send replies, in turn order');

  // A stream's pushes keep their order: every one waits, even of a message in the open batch.
  host.accept({ t: 'req', r: 9, qid: STREAM_QID, session: 5, req: { op: 'createGroup', args: { queue: 's', group: 'g', start: 'earliest' } } }, 6);
  host.accept({ t: 'req', r: 10, qid: STREAM_QID, session: 5, sub: 3, req: { op: 'subscribe', args: { queue: 's', credit: 10, group: 'g' } } }, 6);
  host.accept({ t: 'req', r: 11, qid: STREAM_QID, session: 1, req: { op: 'send', args: { queue: 's', body: Buffer.from('x') } } }, 6);
  t.same(refs(host.endTurn(6)), [10], 'only the subscribe reply leaves at once');
  store.markDurable(store.written);
  t.same(host.released().map((a) => [a.t, 'r' in a ? a.r : undefined]), [['reply', 9], ['reply', 11], ['push', undefined]], 'the stream push with the replies, once durable');

  // A push released by the very turn that answers the subscribe (it wrote nothing new) still
  // comes after the subscribe reply: the main thread learns the subscription first.
  host.accept({ t: 'req', r: 12, qid: STREAM_QID, session: 7, req: { op: 'createGroup', args: { queue: 's', group: 'h', start: 'earliest' } } }, 7);
  host.endTurn(7);
  store.markDurable(store.written);
  host.released();
  host.accept({ t: 'req', r: 13, qid: STREAM_QID, session: 7, sub: 4, req: { op: 'subscribe', args: { queue: 's', credit: 10, group: 'h' } } }, 8);
  const now = host.endTurn(8);
  t.same(now.map((a) => [a.t, 'r' in a ? a.r : undefined]), [['reply', 13], ['push', undefined]], 'the subscribe reply, then the push');
});

t.test('ShardHost with beforeWrite: pushes that need not wait are handed out before the turn\'s batch is written, unless the turn posts after its write anyway', async (t) => {
  const store = await ShardStore.open(tempDir(t));
  t.teardown(() => store.close());
  const host = new ShardHost(store, 1 << 20, false, { deferSync: true });
  await host.recover(1);
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  host.endTurn(1);
  store.markDurable(store.written);
  host.released();
  host.accept({ t: 'req', r: 2, qid: QID, session: 5, sub: 1, req: { op: 'subscribe', args: { queue: 'q', credit: 10 } } }, 2);
  const handed: Array<{ items: FromShard[]; written: number }> = [];
  const beforeWrite = (items: FromShard[]): void => {
    handed.push({ items, written: store.written });
  };
  t.same(host.endTurn(2, beforeWrite), [], 'the subscribe reply went early: nothing else to answer');
  t.same(handed.map((h) => refs(h.items)), [[2]]);
  handed.length = 0;

  const before = store.written;
  host.accept(send(3, 'fresh'), 3);
  const after = host.endTurn(3, beforeWrite);
  t.equal(handed.length, 1, 'one hand-out before the write');
  t.same(handed[0]!.items.map((a) => a.t), ['push'], 'the push of the message sent in this turn');
  t.equal(handed[0]!.written, before, 'handed out before the turn\'s batch was written');
  t.equal(store.written, before + 1, 'then written');
  t.same(after, [], 'the send reply waits for the sync, as before');
  store.markDurable(store.written);
  t.same(refs(host.released()), [3]);

  host.accept({ t: 'stats', r: 4 }, 4);
  handed.length = 0;
  t.same(refs(host.endTurn(4, beforeWrite)), [4], 'a turn without early items hands out nothing before its write');
  t.same(handed, []);

  // A turn that posts answers right after its write anyway (a consumer's credit that wrote
  // nothing, with every earlier write durable): its push waits for that one post instead of a
  // post of its own.
  const Q2 = '1111111111111111';
  host.accept({ t: 'create', r: 5, id: Q2, name: 'q2', attributes: {}, createdAt: 1 }, 5);
  host.accept({ t: 'req', r: 6, qid: Q2, session: 1, req: { op: 'send', args: { queue: 'q2', body: Buffer.from('b1') } } }, 5);
  host.accept({ t: 'req', r: 7, qid: Q2, session: 1, req: { op: 'send', args: { queue: 'q2', body: Buffer.from('b2') } } }, 5);
  host.endTurn(5, beforeWrite);
  store.markDurable(store.written);
  host.released();
  host.accept({ t: 'req', r: 8, qid: Q2, session: 6, sub: 2, req: { op: 'subscribe', args: { queue: 'q2', credit: 1 } } }, 6);
  host.endTurn(6, beforeWrite);
  store.markDurable(store.written);
  t.same(host.released().map((a) => a.t), ['push'], 'the first backlog push, once the delivered mark is durable');
  handed.length = 0;
  host.accept({ t: 'req', r: 9, qid: Q2, session: 6, req: { op: 'credit', args: { sub: 2, credit: 1 } } }, 7);
  const settled = host.endTurn(7, beforeWrite);
  t.same(handed, [], 'nothing handed out before the write');
  t.same(settled.map((a) => [a.t, 'r' in a ? a.r : undefined]), [['push', undefined], ['reply', 9]], 'the push, then the credit reply, after it');
});

t.test('ShardHost with deferSync: a backlog push leaves with its turn once the delivered mark ahead of it is durable; with a dead-letter queue it waits', async (t) => {
  const store = await ShardStore.open(tempDir(t));
  t.teardown(() => store.close());
  const host = new ShardHost(store, 1 << 20, false, { deferSync: true });
  await host.recover(1);
  const DLQ_QID = '00000000000000d1';
  const COUNTED_QID = 'c0c0c0c0c0c0c0c0';
  host.accept({ t: 'create', r: 1, id: DLQ_QID, name: 'dlq', attributes: {}, createdAt: 1 }, 1);
  host.accept({ t: 'create', r: 3, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  host.accept({ t: 'create', r: 2, id: COUNTED_QID, name: 'counted', attributes: { deadLetter: { queue: 'dlq', maxReceives: 5 } }, createdAt: 1 }, 1);
  for (const [i, body] of ['a', 'b', 'c'].entries()) {
    host.accept({ ...send(10 + i, body) }, 1);
    host.accept({ t: 'req', r: 20 + i, qid: COUNTED_QID, session: 1, req: { op: 'send', args: { queue: 'counted', body: Buffer.from(body) } } }, 1);
  }
  host.endTurn(1);
  store.markDurable(store.written);
  host.released();
  const subscribe = (r: number, qid: string, queue: string, sub: number): ToShard => ({ t: 'req', r, qid, session: 5, sub, req: { op: 'subscribe', args: { queue, credit: 1 } } });
  const credit = (r: number, qid: string, sub: number): ToShard => ({ t: 'req', r, qid, session: 5, req: { op: 'credit', args: { sub, credit: 1 } } });
  const pushes = (answers: FromShard[]): FromShard[] => answers.filter((a) => a.t === 'push');

  // Plain queue: the first delivery stages the delivered mark (ahead of it, up to the last sequence
  // in use), and its push waits for that to be durable; once it is, the next backlog pushes leave
  // with their turn: a crash cannot bring them back without one delivery counted.
  host.accept(subscribe(30, QID, 'q', 1), 2);
  t.same(pushes(host.endTurn(2)), [], 'the first backlog push waits: no delivered mark on disk covers it yet');
  store.markDurable(store.written);
  t.same(pushes(host.released()).length, 1, 'released once the mark is durable');
  host.accept(credit(31, QID, 1), 3);
  const next = host.endTurn(3);
  t.same(pushes(next).length, 1, 'the next backlog message is pushed in its turn: its delivery is counted on disk already');

  // A queue with a dead-letter queue stores each delivery's receive count in the turn's batch:
  // every backlog push waits for it (maxReceives holds across a crash).
  host.accept(subscribe(40, COUNTED_QID, 'counted', 2), 4);
  t.same(pushes(host.endTurn(4)), [], 'waits');
  store.markDurable(store.written);
  t.same(pushes(host.released()).length, 1);
  host.accept(credit(41, COUNTED_QID, 2), 5);
  t.same(pushes(host.endTurn(5)), [], 'still waits for its own turn\'s write: its receive count is in it');
  store.markDurable(store.written);
  t.same(pushes(host.released()).length, 1, 'then leaves');
});

t.test('a real shard worker: an fdatasync begun after each request completes before its reply (strace); close leaves no thread', async (t) => {
  const dir = tempDir(t);
  const workerUrl = resolve('dist/src/actors/shard-worker.js');
  // The parent thread marks each request and reply on stderr (synchronous for a pipe), so strace
  // shows them in order with every thread's fdatasync. It closes the worker and then has nothing
  // left: the process exits by itself only if no thread (shard or syncer) is left running.
  const script = `
    const { Worker } = await import('node:worker_threads');
    const w = new Worker(${JSON.stringify(workerUrl)}, { execArgv: [], workerData: { shard: 0, dir: ${JSON.stringify(dir)}, bodyCacheBytes: 1 << 20 } });
    const waiting = new Map();
    let ready;
    const readyP = new Promise((r) => (ready = r));
    let closed;
    const closedP = new Promise((r) => (closed = r));
    w.on('message', (items) => {
      for (const a of items) {
        if (a.t === 'ready') ready();
        else if (a.t === 'closed') closed();
        else if (a.t === 'reply' || a.t === 'fail') waiting.get(a.r)?.(a);
      }
    });
    const ask = (m) => new Promise((r) => { waiting.set(m.r, r); w.postMessage([m]); });
    await readyP;
    await ask({ t: 'create', r: 0, id: '${QID}', name: 'q', attributes: {}, createdAt: 1 });
    for (let i = 1; i <= 5; i++) {
      process.stderr.write('SEND ' + i + '\\n');
      const a = await ask({ t: 'req', r: i, qid: '${QID}', session: 1, req: { op: 'send', args: { queue: 'q', body: Buffer.from('m' + i) } } });
      if (a.t !== 'reply') throw new Error(JSON.stringify(a));
      process.stderr.write('ACK ' + i + '\\n');
    }
    w.postMessage([{ t: 'close' }]);
    await closedP;
    await new Promise((r) => w.once('exit', r));
    process.stderr.write('EXITED\\n');`;
  const run = spawnSync('strace', ['-f', '-e', 'trace=fsync,fdatasync,write', '-e', 'signal=none', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  t.equal(run.error, undefined, 'strace must be installed (.ci/run installs it), and the process must end by itself');
  t.equal(run.status, 0, run.stderr.slice(-2000));
  t.match(run.stderr, /EXITED/, 'the worker and its syncer closed');

  // Per request: an fdatasync/fsync ENTERED after "SEND i" (any thread) and RETURNED 0 before "ACK i".
  const lines = run.stderr.split('\n');
  const covered: number[] = [];
  let current = 0;
  const begun = new Set<string>(); // pids with a sync begun after the current SEND
  let synced = false;
  for (const line of lines) {
    const pid = /^\[pid\s+(\d+)\]/.exec(line)?.[1] ?? 'main';
    const sendMark = /"SEND (\d+)\\n"/.exec(line);
    const ackMark = /"ACK (\d+)\\n"/.exec(line);
    if (sendMark !== null) {
      current = Number(sendMark[1]);
      begun.clear();
      synced = false;
    } else if (ackMark !== null) {
      if (Number(ackMark[1]) === current && synced) covered.push(current);
    } else if (current > 0) {
      if (/\b(fdatasync|fsync)\(\d+\)\s+= 0/.test(line)) synced = true; // entered and returned on one line
      else if (/\b(fdatasync|fsync)\(\d+\s*<unfinished/.test(line)) begun.add(pid);
      else if (/<\.\.\. (fdatasync|fsync) resumed>.*= 0/.test(line) && begun.has(pid)) synced = true;
    }
  }
  t.same(covered, [1, 2, 3, 4, 5], 'every reply came after a sync that began after its request');
});

t.test('ShardStore with deferSync: no write while a sync is in flight; reads see the open batch; flush writes it', async (t) => {
  const store = await ShardStore.open(tempDir(t));
  t.teardown(() => store.close());
  const attributes = { ...(await import('../src/protocol/ops.js')).DEFAULT_QUEUE_ATTRIBUTES };
  store.putQueue({ id: QID, name: 'q', attributes, createdAt: 1, purgedBelow: 0 });
  t.equal(store.commit({ deferSync: true }), 1, 'no sync in flight: written at once');
  t.equal(store.written, 1);
  t.equal(store.syncRequest(), 1, 'a sync is asked for the write');
  t.equal(store.syncRequest(), undefined, 'and only once');

  store.putMessage(QID, 0, { sentAt: 1, visibleAt: 1, body: Buffer.from('unwritten') });
  store.putForward({ qid: QID, seq: 0 }, { target: 'dlq', message: { id: 'f0', body: Buffer.from('f') } });
  t.equal(store.commit({ deferSync: true }), 2, 'a sync in flight: the turn gets the number of the open batch');
  t.equal(store.written, 1, 'which is not written');
  t.equal(Buffer.from(store.readMessages(QID, [0])[0]!.body).toString(), 'unwritten', 'a read sees the open batch');
  t.match(store.readForwards([{ qid: QID, seq: 0 }]), [{ message: { id: 'f0' } }]);
  store.deleteForward({ qid: QID, seq: 0 });
  t.same(store.readForwards([{ qid: QID, seq: 0 }]), [undefined], 'and its deletions');
  t.equal(store.commit({ deferSync: true }), 2, 'a turn that staged more joins the same batch');
  t.equal(store.syncRequest(), undefined, 'nothing new to sync while the first sync is in flight');

  store.markDurable(1);
  store.flush();
  t.equal(store.written, 2, 'the open batch is written once the sync reported');
  t.equal(store.syncRequest(), 2, 'and its sync asked for');
  t.equal(Buffer.from(store.readMessages(QID, [0])[0]!.body).toString(), 'unwritten', 'read back from RocksDB');
  t.same(store.readForwards([{ qid: QID, seq: 0 }]), [undefined]);
  store.markDurable(2);
  t.equal(store.durable, 2);
});

t.test('a shard worker that dies right after it started stops its syncer and exits at once (5 times)', async (t) => {
  // A stop that reaches the syncer before it first waits must not be missed: the dying worker
  // waits for its syncer to let go of the database, and would hang for the stop bound.
  const { Worker } = await import('node:worker_threads');
  const { within } = await import('./helpers/bounded.js');
  const dir = tempDir(t);
  for (let i = 0; i < 5; i++) {
    const w = new Worker(resolve('dist/src/actors/shard-worker.js'), { execArgv: [], workerData: { shard: 0, dir, bodyCacheBytes: 1 << 20 } });
    const exited = new Promise<number>((r) => w.once('exit', r));
    await within(new Promise<void>((r) => w.on('message', (items: FromShard[]) => items.some((a) => a.t === 'ready') && r())), 10_000, 'worker ready');
    w.postMessage([{ t: 'crash' }] satisfies ToShard[]);
    t.equal(await within(exited, 5_000, `worker ${i} exit`), 70, `worker ${i} exited with 70`);
  }
});
