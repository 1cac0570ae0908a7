// The storage-log replication rules (actors/replica-log.ts) over two real RocksDB stores, one
// leading and one following: entries carry (epoch, seq, prevEpoch); a follower applies an entry
// only when it continues its own log, refuses lower epochs (fencing), and a snapshot replaces a
// diverged copy exactly — including the absence of deleted messages.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShardStore } from '../src/storage/shard-store.js';
import { ReplicaLog, type LogEntry } from '../src/actors/replica-log.js';
import { ShardHost } from '../src/actors/shard-host.js';
import { DEFAULT_QUEUE_ATTRIBUTES } from '../src/protocol/ops.js';
import { PREFIX } from '../src/storage/keys.js';

const Q = 'cccccccccccccccc';
const attributes = { ...DEFAULT_QUEUE_ATTRIBUTES, maxMessageBytes: 1024 };

async function openStore(t: { teardown(fn: () => unknown): void }): Promise<{ store: ShardStore; log: ReplicaLog; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-replica-'));
  const store = await ShardStore.open(dir);
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, log: new ReplicaLog(store), dir };
}

function send(store: ShardStore, seq: number): void {
  store.putMessage(Q, seq, { id: `m${seq}`, sentAt: seq, visibleAt: 0, body: Buffer.from(`body${seq}`) });
  store.putNextSeq(Q, seq + 1, 0, 0);
}

/** Commits the leader's staged writes and returns the one entry they made. */
function commitEntry(leader: { store: ShardStore; log: ReplicaLog }): LogEntry {
  leader.store.commit();
  const entries = leader.log.takeEntries();
  if (entries.length !== 1) throw new Error(`expected one entry, got ${entries.length}`);
  return entries[0]!;
}

function bodies(store: ShardStore): string[] {
  return (store.recoverQueue(Q)?.messages ?? []).map((m) => Buffer.from(m.body!).toString());
}

t.test('a follower applies entries in order, acknowledges resends, and refuses gaps', async (t) => {
  const leader = await openStore(t);
  const follower = await openStore(t);
  leader.log.lead(Q, 1);
  leader.store.putQueue({ id: Q, name: 'q', attributes, createdAt: 1, purgedBelow: 0 });
  const e1 = commitEntry(leader);
  t.match(e1, { qid: Q, epoch: 1, prevEpoch: 0, seq: 1 }, 'the first entry of epoch 1');
  send(leader.store, 0);
  const e2 = commitEntry(leader);
  send(leader.store, 1);
  const e3 = commitEntry(leader);
  t.same([e2.seq, e3.seq], [2, 3]);

  t.match(follower.log.apply(e2), { ok: false, reason: 'mismatch' }, 'entry 2 before entry 1 is a gap');
  t.match(follower.log.apply(e1), { ok: true, mark: { epoch: 1, seq: 1 } });
  t.match(follower.log.apply(e2), { ok: true, mark: { epoch: 1, seq: 2 } });
  follower.store.commit();
  t.match(follower.log.apply(e2), { ok: true, mark: { epoch: 1, seq: 2 } }, 'a resend is acknowledged without a second write');
  t.match(follower.log.apply(e3), { ok: true, mark: { epoch: 1, seq: 3 } });
  follower.store.commit();
  t.same(bodies(follower.store), ['body0', 'body1'], 'the follower holds what the leader wrote');
  t.same(follower.log.markOf(Q), { epoch: 1, seq: 3 });
});

t.test('a follower that saw a newer epoch fences the deposed leader', async (t) => {
  const oldLeader = await openStore(t);
  const newLeader = await openStore(t);
  const follower = await openStore(t);
  oldLeader.log.lead(Q, 1);
  oldLeader.store.putQueue({ id: Q, name: 'q', attributes, createdAt: 1, purgedBelow: 0 });
  const e1 = commitEntry(oldLeader);
  for (const s of [newLeader, follower]) {
    s.log.apply(e1);
    s.store.commit();
  }
  // Epoch 2 begins on the new leader: its first entry moves the follower to epoch 2.
  newLeader.log.lead(Q, 2);
  const bump = commitEntry(newLeader);
  t.match(bump, { epoch: 2, prevEpoch: 1, seq: 2 });
  t.match(follower.log.apply(bump), { ok: true, mark: { epoch: 2, seq: 2 } });
  follower.store.commit();
  // The old leader still believes it leads epoch 1 and writes on.
  send(oldLeader.store, 0);
  const stale = commitEntry(oldLeader);
  t.match(follower.log.apply(stale), { ok: false, reason: 'fenced', mark: { epoch: 2 } }, 'lower epoch refused');
  t.same(bodies(follower.store), [], 'nothing of the deposed leader was written');
});

t.test('a diverged copy is replaced by a snapshot, and deleted messages stay deleted', async (t) => {
  const a = await openStore(t);
  const b = await openStore(t);
  a.log.lead(Q, 1);
  a.store.putQueue({ id: Q, name: 'q', attributes, createdAt: 1, purgedBelow: 0 });
  send(a.store, 0);
  send(a.store, 1);
  const e1 = commitEntry(a);
  b.log.apply(e1);
  b.store.commit();
  // b leads epoch 2: deletes message 0, keeps message 1, adds message 2.
  b.log.lead(Q, 2);
  b.store.deleteMessage(Q, 0);
  send(b.store, 2);
  commitEntry(b);
  // a, deposed, had written an entry nobody else holds: its log diverged at seq 2.
  a.log.follow(Q);
  a.store.commit(); // the turn that stepped down ends (it had staged nothing: no entry)
  t.same(a.log.markOf(Q), { epoch: 1, seq: 1 });
  send(a.store, 9);
  a.store.putMessage(Q, 9, { id: 'orphan', sentAt: 0, visibleAt: 0, body: Buffer.from('orphan') });
  a.store.commit(); // a follower's own write makes no entry
  t.same(a.log.takeEntries(), [], 'a follower produces no log entries');

  send(b.store, 3);
  const next = commitEntry(b);
  t.match(a.log.apply(next), { ok: false, reason: 'mismatch' }, 'the next entry does not continue a\'s log');
  const snap = b.log.snapshot(Q);
  a.log.install(Q, snap.rows, snap.mark);
  a.store.commit();
  t.same(bodies(a.store), bodies(b.store), 'after the snapshot both copies agree');
  t.same(bodies(a.store), ['body1', 'body2', 'body3'], 'the deleted message did not come back, the orphan is gone');
  t.same(a.log.markOf(Q), b.log.markOf(Q));
  send(b.store, 4);
  t.match(a.log.apply(commitEntry(b)), { ok: true }, 'streaming resumes after the snapshot');
});

t.test('a deleted queue\'s copy is discarded: every key goes, the mark included', async (t) => {
  const leader = await openStore(t);
  const follower = await openStore(t);
  for (const e of fullQueue(leader)) t.match(follower.log.apply(e), { ok: true });
  follower.store.commit();
  t.ok(follower.store.readQueueKeys(Q).length > 3, 'the follower holds the copy');

  follower.log.discard(Q);
  follower.store.discardQueue(Q);
  t.same(follower.log.markOf(Q), { epoch: 0, seq: 0 }, 'no position right away');
  follower.store.commit();
  await follower.store.close(); // waits for the range clears
  const reopened = await ShardStore.open(follower.dir);
  t.teardown(() => reopened.close());
  t.same(reopened.readQueueKeys(Q), [], 'no key of the queue is left');
});

t.test('a follower stopped after applying its queue\'s deletion discards the rest at recovery', async (t) => {
  const leader = await openStore(t);
  const follower = await openStore(t);
  const entries = fullQueue(leader);
  leader.store.removeQueue(Q); // the leader's deleteQueue: record and high-water mark in the entry
  entries.push(commitEntry(leader));
  for (const e of entries) t.match(follower.log.apply(e), { ok: true });
  follower.store.commit();
  t.ok(follower.store.readQueueKeys(Q).length > 0, 'messages and the mark are still there');
  await follower.store.close();

  const store = await ShardStore.open(follower.dir);
  t.teardown(() => store.close());
  const host = new ShardHost(store, 1 << 20, true);
  t.same(await host.recover(Date.now()), [], 'no queue');
  await store.close();
  const reopened = await ShardStore.open(follower.dir);
  t.teardown(() => reopened.close());
  t.same(reopened.readQueueKeys(Q), [], 'no key of the queue is left');
});

/** Leader: creates Q and sends three messages; returns the entries. */
function fullQueue(leader: { store: ShardStore; log: ReplicaLog }): LogEntry[] {
  leader.log.lead(Q, 1);
  leader.store.putQueue({ id: Q, name: 'q', attributes, createdAt: 1, purgedBelow: 0 });
  const entries = [commitEntry(leader)];
  for (let seq = 0; seq < 3; seq++) {
    send(leader.store, seq);
    entries.push(commitEntry(leader));
  }
  return entries;
}

t.test('a leader that steps down seals what it staged that turn as its last entry', async (t) => {
  const leader = await openStore(t);
  const follower = await openStore(t);
  for (const e of fullQueue(leader)) t.match(follower.log.apply(e), { ok: true });
  // The actor answered a send in this turn, then the queue moved (follow) before the turn ended.
  send(leader.store, 3);
  leader.log.follow(Q);
  t.notOk(leader.log.leads(Q), 'no longer leads once it follows');
  t.match(leader.log.apply({ qid: Q, epoch: 2, prevEpoch: 1, seq: 5, ops: [] }), { ok: false, reason: 'mismatch' }, 'nor follows before the turn is sealed');
  const last = commitEntry(leader);
  t.match(last, { qid: Q, epoch: 1, prevEpoch: 1, seq: 5 }, 'the staged send is the leadership\'s last entry');
  t.match(follower.log.apply(last), { ok: true, mark: { epoch: 1, seq: 5 } });
  follower.store.commit();
  t.same(bodies(follower.store), ['body0', 'body1', 'body2', 'body3'], 'the follower holds the send answered in the last turn');
  t.same(leader.log.markOf(Q), { epoch: 1, seq: 5 }, 'the old leader is now a follower at that entry');
  leader.store.commit();
  t.same(leader.log.takeEntries(), [], 'and writes no entry of its own after it');
  t.match(leader.log.apply({ qid: Q, epoch: 2, prevEpoch: 1, seq: 6, ops: [] }), { ok: true, mark: { epoch: 2, seq: 6 } }, 'it applies the new leader\'s first entry');
});

t.test('a host that stops leading in the middle of a turn replicates the requests it answered in it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-replica-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = await ShardStore.open(dir);
  t.teardown(() => store.close());
  const host = new ShardHost(store, 1 << 20, true);
  await host.recover(0);
  host.accept({ t: 'create', r: 1, id: Q, name: 'q', attributes: {}, createdAt: 1, epoch: 1 }, 1);
  host.endTurn(1);
  // One turn: a send the actor answers, then `follow` (a handover's freeze) in the same port batch.
  host.accept({ t: 'req', r: 2, qid: Q, session: 1, req: { op: 'send', args: { queue: 'q', body: Buffer.from('last') } } }, 2);
  host.accept({ t: 'follow', r: 3, qid: Q }, 2);
  const items = host.endTurn(2);
  const kinds = items.map((a) => a.t);
  const log = items.find((a) => a.t === 'log');
  t.ok(log !== undefined && kinds.indexOf('log') === 0, 'the turn\'s log entry goes out first');
  const puts = log?.t === 'log' ? log.entries.flatMap((e) => e.ops).filter((op) => op.type === 'put' && op.key[0] === PREFIX.message) : [];
  t.equal(puts.length, 1, 'the entry holds the message sent in that turn');
  t.ok(items.some((a) => a.t === 'replies' || a.t === 'reply'), 'and the turn answers the send and the follow');
});

t.test('a deposed leader whose copy goes in the same turn drops it without sealing an entry', async (t) => {
  const leader = await openStore(t);
  fullQueue(leader);
  send(leader.store, 3);
  leader.log.follow(Q);
  leader.log.dropCopy(Q); // the new placement leaves this node out (cluster-node: stepDown, then the copy goes)
  leader.store.commit();
  t.same(leader.log.takeEntries(), [], 'no entry for a copy that is gone');
  t.same(leader.store.readQueueKeys(Q), [], 'no key of the queue is left, no mark either');
  t.same(leader.log.markOf(Q), { epoch: 0, seq: 0 });
});

/** Sequences of the message keys ('M') a store holds for Q, garbage included. */
function storedSeqs(store: ShardStore): number[] {
  return store.readQueueKeys(Q).filter(([k]) => k[0] === PREFIX.message).map(([k]) => k.readUInt32BE(13));
}

t.test('the gone mark replicates: followers skip and clear what it covers, a promoted follower too, a snapshot too', async (t) => {
  const leader = await openStore(t);
  const follower = await openStore(t);
  leader.log.lead(Q, 1);
  leader.store.putQueue({ id: Q, name: 'q', attributes, createdAt: 1, purgedBelow: 0 });
  const entries = [commitEntry(leader)];
  for (let seq = 0; seq < 3000; seq++) leader.store.putMessage(Q, seq, { sentAt: seq, visibleAt: 0, body: Buffer.from(`body${seq}`) });
  entries.push(commitEntry(leader));
  // Acks in order up to 2000: the leader stages the mark, no delete per message.
  leader.store.putNextSeq(Q, 3000, 2500, 2000);
  const marked = commitEntry(leader);
  t.notOk(marked.ops.some((op) => op.type === 'del'), 'the entry carries no delete');
  entries.push(marked);
  for (const e of entries) t.match(follower.log.apply(e), { ok: true });
  follower.store.commit();
  for (const [who, s] of [['leader', leader.store], ['follower', follower.store]] as const) {
    t.same(storedSeqs(s).slice(0, 1), [2000], `${who}: no message key below the mark is left`);
    t.equal(s.recoverQueue(Q)?.messages.length, 1000, `${who}: recovery finds the 1000 above it`);
  }

  // A mark that moved less than a clear step: the keys stay, recovery skips them.
  leader.store.putNextSeq(Q, 3000, 2500, 2100);
  t.match(follower.log.apply(commitEntry(leader)), { ok: true });
  follower.store.commit();
  t.equal(storedSeqs(follower.store)[0], 2000, 'keys 2000–2099 not cleared yet');
  const promoted = follower.store.recoverQueue(Q)!;
  t.equal(promoted.goneBelow, 2100);
  t.same([promoted.messages.length, promoted.messages[0]!.seq], [900, 2100], 'a follower promoted to leader rebuilds the queue from the mark on');

  // A new replica installs the leader's snapshot (which still has keys 2000–2099): it clears them.
  const fresh = await openStore(t);
  const snap = leader.log.snapshot(Q);
  t.ok(snap.rows.some(([k]) => k[0] === PREFIX.message && k.readUInt32BE(13) < 2100), 'the snapshot carries garbage below the mark');
  fresh.log.install(Q, snap.rows, snap.mark);
  fresh.store.commit();
  t.equal(storedSeqs(fresh.store)[0], 2100, 'the installed copy has no key below the mark');
  t.equal(fresh.store.recoverQueue(Q)?.messages.length, 900);

  // Closing clears what the mark covers and no clear reached; recovery would skip and clear it too.
  await follower.store.close();
  const reopened = await ShardStore.open(follower.dir);
  t.teardown(() => reopened.close());
  const host = new ShardHost(reopened, 1 << 20, true);
  await host.recover(Date.now());
  await reopened.close();
  const again = await ShardStore.open(follower.dir);
  t.teardown(() => again.close());
  t.equal(storedSeqs(again)[0], 2100, 'no key below the mark after a stop');
});

t.test('a deposed leader\'s own mark does not outlive the snapshot that replaces its copy', async (t) => {
  const a = await openStore(t);
  const b = await openStore(t);
  a.log.lead(Q, 1);
  a.store.putQueue({ id: Q, name: 'q', attributes, createdAt: 1, purgedBelow: 0 });
  for (let seq = 0; seq < 3000; seq++) a.store.putMessage(Q, seq, { sentAt: seq, visibleAt: 0, body: Buffer.from(`body${seq}`) });
  t.match(b.log.apply(commitEntry(a)), { ok: true });
  b.store.commit();
  // a acks 2500 in order (its store clears the first 2000) in entries nobody else gets, then is deposed.
  a.store.putNextSeq(Q, 3000, 2000, 2000);
  commitEntry(a);
  t.equal(storedSeqs(a.store)[0], 2000, 'a cleared below its mark');
  a.store.putNextSeq(Q, 3000, 2500, 2500); // less than a clear step further: not cleared yet
  commitEntry(a);
  a.log.follow(Q);
  a.store.commit();
  b.log.lead(Q, 2);
  b.store.putNextSeq(Q, 3000, 0, 0);
  commitEntry(b);
  const snap = b.log.snapshot(Q);
  a.log.install(Q, snap.rows, snap.mark);
  a.store.commit();
  t.equal(a.store.recoverQueue(Q)?.messages.length, 3000, 'the snapshot put back what a had cleared');
  await a.store.close();
  const reopened = await ShardStore.open(a.dir);
  t.teardown(() => reopened.close());
  t.equal(reopened.recoverQueue(Q)?.messages.length, 3000, 'and a stop did not clear below a\'s old mark');
});
