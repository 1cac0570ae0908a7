// Who carries a queue's moves in cluster mode (docs/cluster.md, "Moves between queues"): a
// replicated ShardHost over a real ShardStore sends a queue's outbox records only while it leads
// the queue — after `lead` (including records a previous run left), never at recovery of a mere
// replica, and not after `follow`; and a deposed host ignores a late `forwarded`, so it never
// writes to the replica it no longer leads. The outbox write reaches the replication log before
// the record is handed out (the main thread waits for that entry's commit before moving it).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShardHost } from '../src/actors/shard-host.js';
import type { FromShard, QueueRequest, ToShard } from '../src/actors/shard-messages.js';
import { ShardStore } from '../src/storage/shard-store.js';
import type { ForwardId } from '../src/storage/keys.js';
import { answerTo } from './helpers/shard-answers.js';

const QID = '0123456789abcdef';

async function openHost(t: { teardown(fn: () => unknown): void }, dir: string): Promise<{ store: ShardStore; host: ShardHost }> {
  const store = await ShardStore.open(dir);
  const host = new ShardHost(store, 1 << 20, true);
  await host.recover(Date.now());
  t.teardown(() => store.close());
  return { store, host };
}

const req = (r: number, q: QueueRequest): ToShard => ({ t: 'req', r, qid: QID, session: 1, req: q });

function result<T>(answers: FromShard[], r: number): T {
  const a = answerTo(answers, r);
  if (a?.t !== 'reply') throw new Error(`no reply to ${r}: ${JSON.stringify(a)}`);
  return a.result as T;
}

const forwards = (answers: FromShard[]): ForwardId[] => answers.flatMap((a) => (a.t === 'forward' ? [a.f] : []));

/** Sends `body` and rejects it, so the actor dead-letters it: one outbox record. */
function deadLetter(host: ShardHost, r: number, body: string): FromShard[] {
  host.accept(req(r, { op: 'send', args: { queue: 'src', body: Buffer.from(body) } }), r);
  host.endTurn(r);
  host.accept(req(r + 1, { op: 'receive', args: { queue: 'src', max: 1 } }), r);
  const [m] = result<{ messages: Array<{ receipt: string }> }>(host.endTurn(r), r + 1).messages;
  host.accept(req(r + 2, { op: 'nack', args: { queue: 'src', receipt: m!.receipt, requeue: false } }), r);
  return host.endTurn(r);
}

t.test('a replicated host carries a queue\'s moves only while it leads the queue', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-moves-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let { store, host } = await openHost(t, dir);
  host.accept({ t: 'create', r: 1, id: QID, name: 'src', attributes: { deadLetter: { queue: 'dlq', maxReceives: 5 } }, createdAt: 1, epoch: 1 }, 1);
  host.endTurn(1);

  const first = deadLetter(host, 10, 'one');
  t.same(forwards(first), [{ qid: QID, seq: 0 }], 'the leader sends its outbox record on');
  const kinds = first.map((a) => a.t);
  t.ok(kinds.indexOf('log') >= 0 && kinds.indexOf('log') < kinds.indexOf('forward'), 'after the log entry that holds it');
  host.accept({ t: 'forwarded', f: { qid: QID, seq: 0 } }, 20);
  const done = host.endTurn(20);
  t.same(done.flatMap((a) => (a.t === 'forwardDone' ? [a.f] : [])), [{ qid: QID, seq: 0 }], 'acknowledged: the record goes');
  t.ok(done.some((a) => a.t === 'log'), 'and its deletion is a log entry too');
  t.same(store.forwardsOf(QID), []);

  t.same(forwards(deadLetter(host, 30, 'two')), [{ qid: QID, seq: 1 }]);
  host.accept({ t: 'follow', r: 40, qid: QID }, 40);
  host.endTurn(40);
  host.accept({ t: 'forwarded', f: { qid: QID, seq: 1 } }, 41);
  const late = host.endTurn(41);
  t.same(late.filter((a) => a.t === 'forwardDone' || a.t === 'log'), [], 'a deposed host ignores a late acknowledgement');
  t.same(store.forwardsOf(QID), [{ qid: QID, seq: 1 }], 'the record stays in its replica, for the next leader');

  await store.close();
  ({ store, host } = await openHost(t, dir));
  t.same(forwards(host.endTurn(50)), [], 'a restarted replica sends nothing at recovery');
  host.accept({ t: 'lead', r: 60, qid: QID, epoch: 2 }, 60);
  t.same(forwards(host.endTurn(60)), [{ qid: QID, seq: 1 }], 'the new leader sends the record a previous leadership left');
});

t.test('a host that stops leading a queue gives its cached bodies back to the shard\'s body cache', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-moves-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { host } = await openHost(t, dir);
  host.accept({ t: 'create', r: 1, id: QID, name: 'src', attributes: {}, createdAt: 1, epoch: 1 }, 1);
  host.endTurn(1);
  t.equal(host.cachedBodyBytes, 0);
  host.accept(req(2, { op: 'sendBatch', args: { queue: 'src', entries: Array.from({ length: 10 }, (_, i) => ({ body: Buffer.alloc(256, i) })) } }), 2);
  host.endTurn(2);
  t.ok(host.cachedBodyBytes >= 10 * 256, `ten bodies cached (${host.cachedBodyBytes} bytes counted)`);
  host.accept({ t: 'follow', r: 3, qid: QID }, 3);
  host.endTurn(3);
  t.equal(host.cachedBodyBytes, 0, 'none counted once the actor stopped (they would fill the budget move after move)');
  host.accept({ t: 'lead', r: 4, qid: QID, epoch: 2 }, 4);
  host.endTurn(4);
  host.accept(req(5, { op: 'receive', args: { queue: 'src', max: 10 } }), 5);
  const got = result<{ messages: Array<{ body: Uint8Array }> }>(host.endTurn(5), 5).messages;
  t.same(got.map((m) => m.body[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'leading again, every message comes back with its body');
});

t.test('a deleted queue this host led keeps sending its dead letters past the in-flight bound, and says when the last is gone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-moves-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { store, host } = await openHost(t, dir);
  host.accept({ t: 'create', r: 1, id: QID, name: 'src', attributes: { deadLetter: { queue: 'dlq', maxReceives: 5 } }, createdAt: 1, epoch: 1 }, 1);
  host.endTurn(1);
  const n = 1500; // more than the shard keeps in flight at once (1,000)
  for (let i = 0; i < n; i += 500) host.accept(req(2 + i, { op: 'sendBatch', args: { queue: 'src', entries: Array.from({ length: 500 }, (_, k) => ({ body: Buffer.from(`m${i + k}`) })) } }), 2);
  host.endTurn(2);
  host.accept(req(3, { op: 'deleteQueue', args: { queue: 'src' } }), 3);
  let sent = forwards(host.endTurn(3));
  t.equal(sent.length, 1000, 'the deletion dead-letters every message; the first 1,000 go at once');
  // The cluster layer learns of the deletion and discards the copy, while the moves are on their way.
  host.accept({ t: 'discard', r: 4, qid: QID }, 4);
  t.same(result(host.endTurn(4), 4), { discarded: true, carrying: true }, 'the discard says its outbox still moves from here');
  const moved = new Set<number>();
  const drained: ForwardId[] = [];
  for (let turn = 5; sent.length > 0 && turn < 20; turn++) {
    for (const f of sent) {
      moved.add(f.seq);
      host.accept({ t: 'forwarded', f }, turn);
    }
    const out = host.endTurn(turn);
    for (const a of out) if (a.t === 'forwardDone' && a.drained === true) drained.push(a.f);
    sent = forwards(out);
  }
  t.equal(moved.size, n, 'every dead letter left, the ones past the bound too: the discarded copy still acknowledges them');
  t.same(store.forwardsOf(QID), [], 'no outbox record is left behind');
  t.equal(drained.length, 1, 'the last acknowledgement says the deleted queue\'s outbox is empty (the cluster layer stops carrying it)');

  // A copy this host only followed is not carried: a late acknowledgement changes nothing.
  const OTHER = 'fedcba9876543210';
  host.accept({ t: 'create', r: 30, id: OTHER, name: 'other', attributes: {}, createdAt: 1, epoch: 1 }, 30);
  host.endTurn(30);
  host.accept({ t: 'follow', r: 31, qid: OTHER }, 31);
  host.endTurn(31);
  host.accept({ t: 'discard', r: 32, qid: OTHER }, 32);
  t.same(result(host.endTurn(32), 32), { discarded: true, carrying: false });
  host.accept({ t: 'forwarded', f: { qid: OTHER, seq: 0 } }, 33);
  t.same(host.endTurn(33).filter((a) => a.t === 'forwardDone'), [], 'nothing to acknowledge for a queue it did not lead');

  // A led queue deleted with nothing in its outbox: nothing is carried, and the discard says so
  // (the cluster layer stops carrying it at once: no `drained` will come).
  const EMPTY = '0000000000000e00';
  host.accept({ t: 'create', r: 40, id: EMPTY, name: 'empty', attributes: {}, createdAt: 1, epoch: 1 }, 40);
  host.endTurn(40);
  host.accept({ t: 'req', r: 41, qid: EMPTY, session: 1, req: { op: 'deleteQueue', args: { queue: 'empty' } } }, 41);
  host.endTurn(41);
  host.accept({ t: 'discard', r: 42, qid: EMPTY }, 42);
  t.same(result(host.endTurn(42), 42), { discarded: true, carrying: false }, 'nothing left to carry');
});
