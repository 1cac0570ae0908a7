// Settling turns (actors/shard-host.ts #settlingTurn, docs/protocol.md "Delivery guarantees"): a
// turn that only deletes, changes visibility or gives credit is answered once its batch is
// written (in the OS: a kill of the process keeps it; test/crash-acks.test.ts kills the broker
// right after such answers) and asks for no sync of its own; the worker syncs it with the next
// turn that needs a sync, or LAZY_SYNC_MS later. Every other turn still waits for its sync, and
// no answer overtakes an earlier turn's.
//  - HeldTurns releases settling turns at "written", in turn order;
//  - ShardStore asks the syncer only for writes a commit needs durable, and lazily for the rest;
//  - ShardHost decides what settles: a delivery (a long poll woken by a visibility change, a push
//    that waits for its receive count) or a send in the same turn makes the turn wait;
//  - a real shard worker under strace: deletes are answered without an fdatasync each, and the
//    last one is synced within the lazy window without any other request.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { HeldTurns } from '../src/actors/held-turns.js';
import { ShardHost } from '../src/actors/shard-host.js';
import { ShardStore } from '../src/storage/shard-store.js';
import type { FromShard, QueueRequest, ToShard } from '../src/actors/shard-messages.js';
import type { DeliveredMessage } from '../src/protocol/ops.js';
import { answerTo, answersOf } from './helpers/shard-answers.js';

const QID = '0123456789abcdef';
const DLQ_QID = '00000000000000d1';
const COUNTED_QID = 'c0c0c0c0c0c0c0c0';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-settling-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const req = (r: number, q: QueueRequest, qid = QID, session = 1): ToShard => ({ t: 'req', r, qid, session, req: q });
const send = (r: number, body: string): ToShard => req(r, { op: 'send', args: { queue: 'q', body: Buffer.from(body) } });
const refs = (answers: FromShard[]): number[] => answersOf(answers).map((a) => a.r);
/** The messages of the reply to `r` among a turn's answers. */
function messagesOf(answers: FromShard[], r: number): DeliveredMessage[] {
  const a = answerTo(answers, r);
  if (a?.t !== 'reply') throw new Error(`no reply to ${r}: ${JSON.stringify(a)}`);
  return (a.result as { messages: DeliveredMessage[] }).messages;
}

t.test('HeldTurns: a settling turn leaves once its write is written, never before an earlier turn', async (t) => {
  const held = new HeldTurns<string>();
  held.hold(1, ['send1']);
  held.hold(1, ['del-a'], false); // wrote nothing: rests on write 1
  held.hold(2, ['del-b'], false);
  held.hold(3, ['send3']);
  held.hold(4, ['del-c'], false);
  t.same(held.release(0, 2), [], 'write 1 is not durable: the settling turns after it wait with it');
  t.same(held.release(1, 2), ['send1', 'del-a', 'del-b'], 'write 1 durable, 2 written: through the settling turn at 2');
  t.same(held.release(2, 4), [], 'write 3 waits for its sync, and del-c behind it');
  t.same(held.release(3, 3), ['send3'], 'durable through 3; del-c\'s write 4 is not written yet');
  t.same(held.release(3, 4), ['del-c'], 'written: it goes, not yet durable');
  t.notOk(held.holding);
});

t.test('ShardStore: a settling commit asks for no sync; a lazy request covers it; a commit that needs a sync covers both', async (t) => {
  const store = await ShardStore.open(tempDir(t));
  t.teardown(() => store.close());
  store.putMessage(QID, 0, { id: 'a', sentAt: 0, visibleAt: 0, body: Buffer.from('a') });
  const first = store.commit({ deferSync: true });
  t.equal(store.syncRequest(), first, 'a commit that is not settling asks for a sync');
  store.markDurable(first);
  t.notOk(store.unsynced);

  store.deleteMessage(QID, 0);
  const settled = store.commit({ deferSync: true, settling: true });
  t.equal(settled, first + 1);
  t.equal(store.written, settled, 'written at once (no sync in flight)');
  t.equal(store.syncRequest(), undefined, 'no sync asked for a settling write');
  t.ok(store.unsynced, 'but it is unsynced');
  t.equal(store.syncRequest({ lazy: true }), settled, 'the lazy request asks for it');
  t.notOk(store.unsynced, 'asked for');
  t.equal(store.syncRequest({ lazy: true }), undefined, 'once');
  store.markDurable(settled);
  t.equal(store.durable, settled);

  store.putMessage(QID, 1, { id: 'b', sentAt: 0, visibleAt: 0, body: Buffer.from('b') });
  store.commit({ deferSync: true, settling: true });
  store.putMessage(QID, 2, { id: 'c', sentAt: 0, visibleAt: 0, body: Buffer.from('c') });
  const needed = store.commit({ deferSync: true });
  t.equal(store.syncRequest(), needed, 'one request covers the settling write before it');
  store.markDurable(needed);
  t.notOk(store.unsynced);

  // While a sync is in flight a settling commit does not write: the batch stays open.
  store.putMessage(QID, 3, { id: 'd', sentAt: 0, visibleAt: 0, body: Buffer.from('d') });
  const inFlight = store.commit({ deferSync: true });
  t.equal(store.syncRequest(), inFlight);
  store.deleteMessage(QID, 3);
  const open = store.commit({ deferSync: true, settling: true });
  t.equal(open, inFlight + 1, 'the open batch\'s number');
  t.equal(store.written, inFlight, 'not written while the sync runs');
  store.markDurable(inFlight);
  t.equal(store.syncRequest(), undefined, 'the open batch holds only a settling write: no sync for it');
  store.flush();
  t.equal(store.written, open);
  t.ok(store.unsynced);
});

t.test('ShardHost with deferSync: deletes, visibility changes and credit are answered once written; a delivery or a send in the turn waits for the sync', async (t) => {
  const store = await ShardStore.open(tempDir(t));
  t.teardown(() => store.close());
  const host = new ShardHost(store, 1 << 20, false, { deferSync: true });
  await host.recover(1);
  const durable = (): FromShard[] => {
    store.markDurable(store.written);
    return host.released();
  };
  host.accept({ t: 'create', r: 1, id: QID, name: 'q', attributes: {}, createdAt: 1 }, 1);
  host.accept({ t: 'create', r: 2, id: DLQ_QID, name: 'dlq', attributes: {}, createdAt: 1 }, 1);
  host.accept({ t: 'create', r: 3, id: COUNTED_QID, name: 'counted', attributes: { deadLetter: { queue: 'dlq', maxReceives: 5 } }, createdAt: 1 }, 1);
  for (let i = 0; i < 6; i++) host.accept(send(10 + i, `m${i}`), 1);
  for (let i = 0; i < 3; i++) host.accept(req(20 + i, { op: 'send', args: { queue: 'counted', body: Buffer.from(`c${i}`) } }, COUNTED_QID), 1);
  t.same(host.endTurn(1), [], 'creates and sends wait for their sync');
  t.same(refs(durable()).length, 12);

  host.accept(req(30, { op: 'receive', args: { queue: 'q', max: 6, visibilityMs: 60_000 } }), 2);
  t.same(host.endTurn(2), [], 'a receive waits for the sync of its leases');
  const got = messagesOf(durable(), 30);
  t.equal(got.length, 6);
  const receipt = (i: number): string => got[i]!.receipt;

  host.accept(req(40, { op: 'delete', args: { queue: 'q', receipt: receipt(0) } }), 3);
  const deleted = host.endTurn(3);
  t.same(refs(deleted), [40], 'a delete is answered in its turn');
  t.match(answerTo(deleted, 40), { result: { deleted: true } });
  t.ok(store.durable < store.written, 'once written, before it is durable');
  t.equal(store.syncRequest(), undefined, 'it asks for no sync');
  t.ok(store.unsynced, 'the worker syncs it lazily');

  host.accept(req(41, { op: 'deleteBatch', args: { queue: 'q', receipts: [receipt(1)] } }), 4);
  host.accept(req(42, { op: 'changeVisibility', args: { queue: 'q', receipt: receipt(2), visibilityMs: 120_000 } }), 4);
  t.same(refs(host.endTurn(4)), [41, 42], 'a deleteBatch and a visibility change: answered in their turn');

  host.accept(req(43, { op: 'delete', args: { queue: 'q', receipt: receipt(3) } }), 5);
  host.accept(send(44, 'late'), 5);
  t.same(host.endTurn(5), [], 'with a send in the turn, the delete waits for the sync with it');
  t.equal(store.syncRequest(), store.written, 'and the turn asks for a sync');
  host.accept(req(45, { op: 'delete', args: { queue: 'q', receipt: receipt(4) } }), 6);
  t.same(host.endTurn(6), [], 'a delete while that sync runs: its batch is not written yet');
  store.markDurable(store.written);
  t.same(refs(host.released()), [43, 44], 'the turn with the send, once durable');
  store.flush();
  t.same(refs(host.released()), [45], 'the delete once its batch is written');
  t.ok(store.durable < store.written);

  // A visibility change that wakes a long poll hands a message out, and in a queue with a
  // dead-letter queue its receive count is written: that turn waits for its sync.
  host.accept(req(46, { op: 'receive', args: { queue: 'q', max: 10, visibilityMs: 60_000 } }), 7);
  host.accept(req(47, { op: 'receive', args: { queue: 'counted', max: 10, visibilityMs: 60_000 } }, COUNTED_QID), 7);
  host.endTurn(7);
  const leased = durable();
  t.same(messagesOf(leased, 46).map((m) => Buffer.from(m.body).toString()), ['late']);
  const counted = messagesOf(leased, 47);
  t.equal(counted.length, 3);
  host.accept(req(48, { op: 'receive', args: { queue: 'counted', max: 10, visibilityMs: 60_000, waitMs: 10_000 } }, COUNTED_QID, 2), 8);
  t.same(host.endTurn(8), [], 'the long poll waits: nothing is visible');
  host.accept(req(49, { op: 'changeVisibility', args: { queue: 'counted', receipt: counted[0]!.receipt, visibilityMs: 0 } }, COUNTED_QID), 9);
  t.same(host.endTurn(9), [], 'the visibility change delivered the message to the long poll: the turn waits');
  const woken = durable();
  t.same(refs(woken).sort(), [48, 49], 'both once durable');
  t.same(messagesOf(woken, 48).map((m) => [Buffer.from(m.body).toString(), m.receiveCount]), [['c0', 2]]);

  // Credit: settles unless it makes a push that waits for its write (the receive count again).
  for (let i = 3; i < 5; i++) host.accept(req(60 + i, { op: 'send', args: { queue: 'counted', body: Buffer.from(`c${i}`) } }, COUNTED_QID), 10);
  host.endTurn(10);
  durable();
  host.accept({ t: 'req', r: 50, qid: COUNTED_QID, session: 5, sub: 1, req: { op: 'subscribe', args: { queue: 'counted', credit: 1 } } }, 10.5);
  t.same(refs(host.endTurn(10.5)), [50], 'the subscribe reply leaves with its turn');
  t.same(durable().map((a) => a.t), ['push'], 'the push once its receive count is durable');
  host.accept(req(51, { op: 'credit', args: { sub: 1, credit: 1 } }, COUNTED_QID, 5), 11);
  t.same(host.endTurn(11), [], 'a credit that pushes a counted delivery waits for the sync');
  t.same(durable().map((a) => [a.t, 'r' in a ? a.r : undefined]).sort(), [['push', undefined], ['reply', 51]], 'the credit reply with its push');
  host.accept({ t: 'req', r: 52, qid: QID, session: 6, sub: 2, req: { op: 'subscribe', args: { queue: 'q', credit: 1 } } }, 12);
  t.same(refs(host.endTurn(12)), [52]);
  host.accept(req(53, { op: 'credit', args: { sub: 2, credit: 5 } }, QID, 6), 13);
  t.same(refs(host.endTurn(13)), [53], 'a credit that pushes nothing is answered in its turn');
  t.notOk(host.holding);
});

t.test('a real shard worker: deletes are answered without an fdatasync each, and the last is synced within the lazy window (strace)', async (t) => {
  const dir = tempDir(t);
  const workerUrl = resolve('dist/src/actors/shard-worker.js');
  const codecUrl = resolve('dist/src/protocol/codec.js');
  const DELETES = 40;
  // The parent thread marks requests and replies on stderr (synchronous for a pipe), so strace
  // shows them in order with every thread's fdatasync.
  const script = `
    const { Worker } = await import('node:worker_threads');
    const { decodeFrame } = await import(${JSON.stringify(codecUrl)});
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
        else if (a.t === 'replies') {
          let start = 0;
          a.rs.forEach((r, i) => { waiting.get(r)?.({ t: 'reply', result: decodeFrame(a.bytes.subarray(start, a.ends[i])) }); start = a.ends[i]; });
        }
      }
    });
    const ask = async (m) => {
      const a = await new Promise((r) => { waiting.set(m.r, r); w.postMessage([m]); });
      if (a.t !== 'reply') throw new Error(JSON.stringify(a));
      return a.result;
    };
    const q = (r, req) => ({ t: 'req', r, qid: '${QID}', session: 1, req });
    await readyP;
    await ask({ t: 'create', r: 0, id: '${QID}', name: 'q', attributes: {}, createdAt: 1 });
    const entries = Array.from({ length: ${DELETES} }, (_, i) => ({ body: Buffer.from('m' + i) }));
    await ask(q(1, { op: 'sendBatch', args: { queue: 'q', entries } }));
    const { messages } = await ask(q(2, { op: 'receive', args: { queue: 'q', max: ${DELETES}, visibilityMs: 600000 } }));
    if (messages.length !== ${DELETES}) throw new Error('received ' + messages.length);
    process.stderr.write('DELETES\\n');
    const started = performance.now();
    for (let i = 0; i < ${DELETES}; i++) {
      const { deleted } = await ask(q(10 + i, { op: 'delete', args: { queue: 'q', receipt: messages[i].receipt } }));
      if (deleted !== true) throw new Error('not deleted: ' + i);
    }
    process.stderr.write('DELETED ' + Math.round(performance.now() - started) + '\\n');
    await new Promise((r) => setTimeout(r, 200));
    process.stderr.write('WOKE\\n');
    w.postMessage([{ t: 'close' }]);
    await closedP;
    await new Promise((r) => w.once('exit', r));
    process.stderr.write('EXITED\\n');`;
  const run = spawnSync('strace', ['-f', '-e', 'trace=fsync,fdatasync,write', '-e', 'signal=none', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  t.equal(run.error, undefined, 'strace must be installed (.ci/run installs it), and the process must end by itself');
  t.equal(run.status, 0, run.status === 0 ? 'the script ran' : run.stderr.slice(-2000));
  t.match(run.stderr, /EXITED/, 'the worker and its syncer closed');

  let phase: 'before' | 'deleting' | 'idle' | 'done' = 'before';
  let syncsDeleting = 0;
  let syncedIdle = false;
  let elapsedMs = 0;
  for (const line of run.stderr.split('\n')) {
    if (line.includes('"DELETES\\n"')) phase = 'deleting';
    else if (/"DELETED (\d+)\\n"/.test(line)) {
      elapsedMs = Number(/"DELETED (\d+)\\n"/.exec(line)![1]);
      phase = 'idle';
    } else if (line.includes('"WOKE\\n"')) phase = 'done';
    else if (/\b(fdatasync|fsync)\(\d+\)\s+= 0|<\.\.\. (fdatasync|fsync) resumed>.*= 0/.test(line)) {
      if (phase === 'deleting') syncsDeleting++;
      else if (phase === 'idle') syncedIdle = true;
    }
  }
  t.ok(syncsDeleting < DELETES / 2, `${DELETES} deletes answered one after another in ${elapsedMs} ms with ${syncsDeleting} fdatasyncs (not one each)`);
  // A sync that ends after the last reply began after its write: the shard writes only while no
  // sync is in flight (ShardStore.commit), and the reply follows the write.
  t.ok(syncedIdle, 'with no other request, a sync covered the last delete within 200 ms');
});
