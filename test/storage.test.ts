// ShardStore over a real RocksDB: layout, recovery, purge and delete garbage, and proof that a
// commit really reaches the disk (shared/STACK.md: a sync option in this binding does not sync).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ShardStore } from '../src/storage/shard-store.js';
import { DEFAULT_QUEUE_ATTRIBUTES } from '../src/protocol/ops.js';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const QA = 'aaaaaaaaaaaaaaaa';
const QB = 'bbbbbbbbbbbbbbbb';
const attributes = { ...DEFAULT_QUEUE_ATTRIBUTES, maxMessageBytes: 1024 };

t.test('recover returns queues, messages in order, deliveries and the sequence high-water mark', async (t) => {
  const dir = tempDir(t);
  let store = await ShardStore.open(dir);
  store.putQueue({ id: QA, name: 'a', attributes, createdAt: 1, purgedBelow: 0 });
  store.putQueue({ id: QB, name: 'b', attributes, createdAt: 2, purgedBelow: 0 });
  for (let seq = 0; seq < 5; seq++) store.putMessage(QA, seq, { id: `m${seq}`, sentAt: seq, visibleAt: seq, body: Buffer.from(`body${seq}`) });
  store.putDelivery(QA, 2, { receiveCount: 3, firstReceivedAt: 10 });
  store.deleteMessage(QA, 4);
  store.putNextSeq(QA, 5, 3, 0);
  store.putMessage(QB, 0, { id: 'b0', sentAt: 0, visibleAt: 0, body: Buffer.from('x'), attributes: { k: 'v' } });
  store.commit();
  await store.close();

  store = await ShardStore.open(dir);
  t.teardown(() => store.close());
  const queues = await store.recover();
  const a = queues.find((q) => q.record.name === 'a')!;
  const b = queues.find((q) => q.record.name === 'b')!;
  t.same(a.messages.map((m) => m.seq), [0, 1, 2, 3]);
  t.equal(Buffer.from(a.messages[1]!.body!).toString(), 'body1');
  t.same(a.messages[2]!.delivery, { receiveCount: 3, firstReceivedAt: 10 });
  t.equal(a.nextSeq, 5, 'the high-water mark survives the deletion of the last message');
  t.equal(a.deliveredBelow, 3, 'and so does the delivered mark');
  t.equal(b.deliveredBelow, 0, 'no mark: nothing counts as delivered');
  t.same(b.messages[0]!.attributes, { k: 'v' });
  t.equal(b.nextSeq, 1, 'without a mark, the next sequence follows the last message');
});

t.test('purged messages and deleted queues are skipped at recovery and cleared', async (t) => {
  const dir = tempDir(t);
  let store = await ShardStore.open(dir);
  store.putQueue({ id: QA, name: 'a', attributes, createdAt: 1, purgedBelow: 0 });
  store.putQueue({ id: QB, name: 'b', attributes, createdAt: 1, purgedBelow: 0 });
  for (let seq = 0; seq < 4; seq++) {
    store.putMessage(QA, seq, { id: `a${seq}`, sentAt: 0, visibleAt: 0, body: Buffer.from('a') });
    store.putMessage(QB, seq, { id: `b${seq}`, sentAt: 0, visibleAt: 0, body: Buffer.from('b') });
  }
  store.commit();
  store.putQueue({ id: QA, name: 'a', attributes, createdAt: 1, purgedBelow: 3 });
  store.removeQueue(QB);
  store.commit();
  await store.close();

  store = await ShardStore.open(dir);
  const queues = await store.recover();
  t.same(queues.map((q) => q.record.name), ['a']);
  t.same(queues[0]!.messages.map((m) => m.seq), [3]);
  await store.close();
  store = await ShardStore.open(dir);
  t.teardown(() => store.close());
  const again = await store.recover();
  t.same(again[0]!.messages.map((m) => m.seq), [3], 'stable across a second recovery');
});

t.test('recover hands each queue its messages through its sink, one at a time in order; a queue without a sink is skipped', async (t) => {
  const dir = tempDir(t);
  let store = await ShardStore.open(dir);
  store.putQueue({ id: QA, name: 'a', attributes, createdAt: 1, purgedBelow: 0 });
  store.putQueue({ id: QB, name: 'b', attributes, createdAt: 1, purgedBelow: 0 });
  for (let seq = 0; seq < 2500; seq++) store.putMessage(QA, seq, { sentAt: seq, visibleAt: seq, body: Buffer.alloc(100, seq % 256) });
  store.putMessage(QA, 2500, { id: 'old-style', sentAt: 1, visibleAt: 2, body: Buffer.from('x'), ttlMs: 5, groupId: 'g' });
  store.putDelivery(QA, 7, { receiveCount: 2, firstReceivedAt: 3 });
  store.putMessage(QB, 0, { sentAt: 0, visibleAt: 0, body: Buffer.from('b') });
  store.commit();
  await store.close();
  store = await ShardStore.open(dir);
  t.teardown(() => store.close());
  const events: string[] = [];
  let count = 0;
  let bad = 0;
  let last: { seq: number; id?: string; extra?: unknown; delivery?: unknown; size: number } | undefined;
  const queues = await store.recover((q) => {
    events.push(`open ${q.record.name}`);
    if (q.record.name === 'b') return undefined;
    return {
      message(m) {
        if (m.seq !== count || m.size !== (m.seq < 2500 ? 100 : 1) || (m.seq < 2500 && m.body![0] !== m.seq % 256)) bad++;
        if (m.seq === 7 && m.delivery?.receiveCount !== 2) bad++;
        if (m.seq !== 7 && m.delivery !== undefined) bad++;
        if (m.seq < 2500 && (m.id !== undefined || m.extra !== undefined || m.attributes !== undefined)) bad++;
        count++;
        last = m;
      },
      end: () => events.push('end a'),
    };
  });
  t.same(events, ['open a', 'open b', 'end a'], 'every queue opened before any message; end after its last');
  t.equal(count, 2501);
  t.equal(bad, 0, 'in order, sizes, bodies and delivery records exact; a plain record has no id and no extra');
  t.match(last, { seq: 2500, id: 'old-style', extra: { ttlMs: 5, groupId: 'g' } });
  t.same(queues.map((q) => [q.record.name, q.nextSeq, q.messages.length]), [['a', 2501, 0], ['b', 1, 0]], 'nothing collected when a sink takes them');
  const [m1] = store.readMessages(QA, [1]);
  t.equal(m1!.body[0], 1, 'bodies stay readable on demand');
});

t.test('every commit is one synced write: fdatasync is called (strace)', async (t) => {
  const dir = tempDir(t);
  const storeModule = resolve('dist/src/storage/shard-store.js');
  const script = `
    const { ShardStore } = await import(${JSON.stringify(storeModule)});
    const s = await ShardStore.open(${JSON.stringify(dir)});
    await s.recover();
    for (let i = 0; i < 5; i++) {
      s.putMessage('${QA}', i, { id: 'x', sentAt: 0, visibleAt: 0, body: Buffer.from('x') });
      process.stderr.write('COMMIT\\n');
      s.commit();
    }
    await s.close();`;
  const run = spawnSync('strace', ['-f', '-e', 'trace=fsync,fdatasync,write', '-e', 'signal=none', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  t.equal(run.error, undefined, 'strace must be installed (.ci/run installs it)');
  t.equal(run.status, 0, run.stderr.slice(-2000));
  // After each COMMIT marker, a data sync must follow before the next marker.
  const lines = run.stderr.split('\n');
  let syncedCommits = 0;
  let awaitingSync = false;
  for (const line of lines) {
    if (line.includes('"COMMIT\\n"')) {
      if (awaitingSync) break;
      awaitingSync = true;
    } else if (awaitingSync && /\b(fdatasync|fsync)\(/.test(line)) {
      awaitingSync = false;
      syncedCommits++;
    }
  }
  t.equal(syncedCommits, 5, 'each of the 5 commits was followed by an fsync/fdatasync');
});

t.test('outbox records, forward markers and dedup records: recovered; a deleted queue keeps its outbox', async (t) => {
  const dir = tempDir(t);
  let store = await ShardStore.open(dir);
  store.putQueue({ id: QA, name: 'a', attributes, createdAt: 1, purgedBelow: 0 });
  store.putQueue({ id: QB, name: 'b', attributes, createdAt: 2, purgedBelow: 0 });
  store.putForward({ qid: QA, seq: 7 }, { target: 'dlq', message: { id: 'm7', body: Buffer.from('seven') } });
  store.putForward({ qid: QA, seq: 7, gid: 0xfeedbeef }, { target: 'dlq', message: { id: 'm7g', body: Buffer.from('seven') } });
  store.putForward({ qid: QB, seq: 1 }, { target: 'dlq', message: { id: 'b1', body: Buffer.from('one') } });
  store.putMarker(QA, { qid: QB, seq: 3 });
  store.putMarker(QA, { qid: QB, seq: 3, gid: 5 });
  store.putGroupDelivery(QA, 5, 2, { receiveCount: 3, firstReceivedAt: 4 });
  store.putGroupDelivery(QA, 5, 3, { receiveCount: 1, firstReceivedAt: 6, done: true });
  store.putGroupDelivery(QB, 5, 2, { receiveCount: 3, firstReceivedAt: 4 });
  store.putDedup(QA, 'i:x', { messageId: 'm1', seq: 1, at: 5 });
  store.putMarker(QB, { qid: QA, seq: 9 });
  store.putDedup(QB, 'i:y', { messageId: 'b0', seq: 0, at: 6 });
  store.commit();
  store.removeQueue(QB);
  store.commit();
  await store.close();
  store = await ShardStore.open(dir);
  const queues = await store.recover();
  const a = queues.find((q) => q.record.id === QA)!;
  t.same(a.markers, [`${QB}:3`, `${QB}:3:5`], 'a stream group\'s dead letter has its own marker');
  t.same(a.groupDeliveries, [{ gid: 5, seq: 2, receiveCount: 3, firstReceivedAt: 4 }, { gid: 5, seq: 3, receiveCount: 1, firstReceivedAt: 6, done: true }]);
  t.same(a.dedup, [{ id: 'i:x', messageId: 'm1', seq: 1, at: 5 }]);
  t.equal(queues.length, 1);
  const forwards = await store.recoverForwards();
  t.same(forwards, [{ qid: QA, seq: 7 }, { qid: QA, seq: 7, gid: 0xfeedbeef }, { qid: QB, seq: 1 }], 'the deleted queue\'s dead letters still leave');
  t.match(store.readForwards(forwards), [{ target: 'dlq', message: { id: 'm7' } }, { message: { id: 'm7g' } }, { target: 'dlq', message: { id: 'b1' } }]);
  store.deleteForward({ qid: QA, seq: 7 });
  store.commit();
  t.same(await store.recoverForwards(), [{ qid: QA, seq: 7, gid: 0xfeedbeef }, { qid: QB, seq: 1 }], 'a group\'s copy is its own record');
  await store.close();
});

t.test('the WAL is written uncompressed (the binding would ZSTD every record by default)', async (t) => {
  const dir = tempDir(t);
  const store = await ShardStore.open(dir);
  t.teardown(() => store.close());
  // RocksDB writes the options it runs with to OPTIONS-NNNNNN in the directory at open.
  const { readdirSync, readFileSync } = await import('node:fs');
  const file = readdirSync(dir).filter((f) => f.startsWith('OPTIONS-')).sort().at(-1);
  t.ok(file, 'an OPTIONS file exists');
  const text = readFileSync(join(dir, file!), 'utf8');
  t.match(text, /^\s*wal_compression=kNoCompression\s*$/m);
});

t.test('each write carries only what was staged since the one before (its batch is emptied and reused), small and large writes alike', async (t) => {
  const dir = tempDir(t);
  let store = await ShardStore.open(dir);
  store.putQueue({ id: QA, name: 'a', attributes: { ...attributes, maxMessageBytes: 65536 }, createdAt: 1, purgedBelow: 0 });
  store.commit();
  const body = (seq: number, size = 8): Buffer => Buffer.alloc(size, seq % 251);
  const live = new Set<number>();
  // 200 small writes, synced and not, each one message put and (from the second on) the one before deleted.
  for (let seq = 0; seq < 200; seq++) {
    store.putMessage(QA, seq, { id: `m${seq}`, sentAt: seq, visibleAt: seq, body: body(seq) });
    live.add(seq);
    if (seq % 3 === 1) {
      store.deleteMessage(QA, seq - 1);
      live.delete(seq - 1);
    }
    t.ok(store.unwritten(QA, seq), `message ${seq} is in the open batch`);
    store.commit({ deferSync: seq % 2 === 0 });
    if (store.unwritten(QA, seq)) t.fail(`message ${seq} is still unwritten after its write`);
  }
  // Cleared by a range after a write: a later write that carried the earlier ones again would bring them back.
  store.clearBelow(QA, 100);
  for (let seq = 0; seq < 100; seq++) live.delete(seq);
  store.commit();
  await new Promise((resolve) => setImmediate(resolve)); // the clear runs after the write
  // A write past the size a reused batch may have (2.4 MB), then small ones again.
  for (let seq = 200; seq < 500; seq++) {
    store.putMessage(QA, seq, { id: `m${seq}`, sentAt: seq, visibleAt: seq, body: body(seq, 8192) });
    live.add(seq);
  }
  store.commit();
  for (let seq = 500; seq < 510; seq++) {
    store.putMessage(QA, seq, { id: `m${seq}`, sentAt: seq, visibleAt: seq, body: body(seq) });
    live.add(seq);
    store.deleteMessage(QA, seq - 300);
    live.delete(seq - 300);
    store.commit({ deferSync: true });
  }
  store.commit();
  const all = Array.from({ length: 510 }, (_, i) => i);
  const read = store.readMessages(QA, all);
  t.same(all.filter((seq) => read[seq] !== undefined), [...live].sort((a, b) => a - b), 'exactly the messages put and not deleted are stored');
  t.same(Buffer.from(read[400]!.body!), body(400, 8192));
  await store.close();

  store = await ShardStore.open(dir);
  t.teardown(() => store.close());
  const [q] = await store.recover();
  t.same(q!.messages.map((m) => m.seq), [...live].sort((a, b) => a - b), 'and so after a restart');
});

t.test('unwritten: from a queue\'s first put in the open batch on, its messages are unwritten until the write, write after write', async (t) => {
  const store = await ShardStore.open(tempDir(t));
  t.teardown(() => store.close());
  const put = (qid: string, seq: number): void => store.putMessage(qid, seq, { id: `m${seq}`, sentAt: 0, visibleAt: 0, body: Buffer.from('x') });
  for (let round = 0; round < 100; round++) {
    const a = 2 * round;
    put(QA, a);
    put(QB, a);
    put(QA, a + 1);
    // Sequences only grow: a queue's messages from its first put in the batch on are all in it.
    const staged = [store.unwritten(QA, a), store.unwritten(QA, a + 1), store.unwritten(QB, a), store.unwritten(QB, a + 1)];
    if (staged.join() !== 'true,true,true,true') t.fail(`round ${round}: staged ${staged.join()}`);
    if (round > 0 && (store.unwritten(QA, a - 1) || store.unwritten(QB, a - 2))) t.fail(`round ${round}: a message of the last write still unwritten`);
    store.commit({ deferSync: round % 2 === 1 });
    if (store.unwritten(QA, a) || store.unwritten(QB, a)) t.fail(`round ${round}: unwritten after its write`);
  }
  put(QB, 1000);
  t.ok(store.unwritten(QB, 1000));
  t.notOk(store.unwritten(QA, 1000), 'a queue with nothing in the open batch holds nothing new');
});
