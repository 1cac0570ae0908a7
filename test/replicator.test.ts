// The leader-side replicator (supervisor/cluster/replicator.ts) as a unit: when replies are
// released under each acks policy, what a follower's refusal does, and that nothing waits forever.
// Its ports (peer calls, the shard's snapshot, membership) are in-memory fakes here: the real ones
// are exercised by the cluster integration tests.
import t from 'tap';
import pino from 'pino';
import { Replicator, type ReplicatorPorts } from '../src/supervisor/cluster/replicator.js';
import type { ApplyOutcome, LogEntry } from '../src/actors/replica-log.js';
import type { PeerAnswer } from '../src/transport/peer-frames.js';
import type { PeerCall } from '../src/supervisor/cluster/peer-messages.js';
import type { AcksPolicy } from '../src/supervisor/cluster/meta.js';

const Q = 'dddddddddddddddd';
const log = pino({ level: 'silent' });

interface Harness {
  rep: Replicator;
  /** Calls waiting for an answer, per follower node. */
  calls: Map<string, Array<{ m: PeerCall; done: (a: PeerAnswer) => void }>>;
  deposed: number[];
  live: Set<string>;
}

function harness(t: { teardown(fn: () => unknown): void }, holdTimeoutMs = 60_000): Harness {
  const calls = new Map<string, Array<{ m: PeerCall; done: (a: PeerAnswer) => void }>>();
  const deposed: number[] = [];
  const live = new Set(['n2', 'n3']);
  const ports: ReplicatorPorts = {
    call: (node, m, done) => {
      if (!calls.has(node)) calls.set(node, []);
      calls.get(node)!.push({ m, done });
    },
    snapshot: (_qid, done) => done({ result: { rows: [], mark: { epoch: 1, seq: 5 } } }),
    isLive: (node) => live.has(node),
    leaseSafe: () => true,
    deposed: (_qid, epoch) => deposed.push(epoch),
  };
  const rep = new Replicator(ports, log, holdTimeoutMs);
  t.teardown(() => rep.close());
  return { rep, calls, deposed, live };
}

function entry(seq: number, prevEpoch = 1): LogEntry {
  return { qid: Q, epoch: 1, prevEpoch, seq, ops: [] };
}

function ack(h: Harness, node: string, outcome: (e: LogEntry) => ApplyOutcome = (e) => ({ ok: true, mark: { epoch: 1, seq: e.seq } })): void {
  const pending = h.calls.get(node) ?? [];
  h.calls.set(node, []);
  for (const c of pending) c.done({ result: outcome((c.m as { entry: LogEntry }).entry) });
}

function lead(h: Harness, acks: AcksPolicy): void {
  h.rep.lead(Q, 1, ['n2', 'n3'], acks, { epoch: 0, seq: 0 });
}

function held(h: Harness): { released: string[]; failed: string[] } {
  const out = { released: [] as string[], failed: [] as string[] };
  h.rep.hold(Q, () => out.released.push('r'), (e) => out.failed.push(e.code));
  return out;
}

t.test('quorum: released after one follower of two acknowledges', async (t) => {
  const h = harness(t);
  lead(h, 'quorum');
  h.rep.entries([entry(1, 0)]);
  const r = held(h);
  t.same(r.released, [], 'held while no follower has it');
  ack(h, 'n2');
  t.same(r.released, ['r'], 'leader + n2 is a majority of three');
});

t.test('all: needs every live follower; a dead one stops counting', async (t) => {
  const h = harness(t);
  lead(h, 'all');
  h.rep.entries([entry(1, 0)]);
  const r = held(h);
  ack(h, 'n2');
  t.same(r.released, [], 'n3 is live and has not acknowledged');
  h.live.delete('n3');
  h.rep.entries([entry(2)]);
  ack(h, 'n2');
  t.same(r.released, ['r'], 'with n3 dead, leader + n2 are all live replicas (and a majority)');
});

t.test('leader: released at once', async (t) => {
  const h = harness(t);
  lead(h, 'leader');
  h.rep.entries([entry(1, 0)]);
  t.same(held(h).released, ['r']);
});

t.test('a follower holding a newer epoch deposes the leader; held replies fail NotLeader when it drops', async (t) => {
  const h = harness(t);
  lead(h, 'quorum');
  h.rep.entries([entry(1, 0)]);
  const r = held(h);
  ack(h, 'n2', () => ({ ok: false, reason: 'fenced', mark: { epoch: 2, seq: 0 } }));
  t.same(h.deposed, [2], 'the node is told it was deposed');
  h.rep.drop(Q, { code: 'NotLeader', message: 'deposed', retryable: true });
  t.same(r.failed, ['NotLeader']);
  t.same(r.released, [], 'never acknowledged');
});

t.test('a mismatch makes the leader send the follower a snapshot of the queue', async (t) => {
  const h = harness(t);
  lead(h, 'quorum');
  h.rep.entries([entry(1, 0)]);
  ack(h, 'n2', () => ({ ok: false, reason: 'mismatch', mark: { epoch: 0, seq: 0 } }));
  const install = h.calls.get('n2')!;
  t.equal(install.length, 1);
  t.match(install[0]!.m, { t: 'install', qid: Q, mark: { epoch: 1, seq: 5 } });
});

t.test('too few acknowledgements in time: NotEnoughReplicas, never a hang', async (t) => {
  const h = harness(t, 300);
  lead(h, 'quorum');
  h.rep.entries([entry(1, 0)]);
  const r = held(h);
  const deadline = Date.now() + 5000;
  while (r.failed.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  t.same(r.failed, ['NotEnoughReplicas']);
});

t.test('at most 256 entries in flight per follower, from any start position; acknowledgements move the window', async (t) => {
  const h = harness(t);
  h.rep.lead(Q, 1, ['n2', 'n3'], 'quorum', { epoch: 1, seq: 5000 });
  h.rep.entries(Array.from({ length: 300 }, (_, i) => entry(5001 + i)));
  const first = h.calls.get('n2')!;
  t.equal(first.length, 256, 'a window of 256 entries, though the log starts at 5001');
  t.equal((first[0]!.m as { entry: LogEntry }).entry.seq, 5001);
  ack(h, 'n2');
  t.equal(h.calls.get('n2')!.length, 44, 'the other 44 follow once the first ones are acknowledged');
  t.equal((h.calls.get('n2')![0]!.m as { entry: LogEntry }).entry.seq, 5257);
});

t.test('a learner receives the log but does not count; an idle queue sends it a snapshot at once', async (t) => {
  const h = harness(t);
  h.live.add('n4');
  lead(h, 'quorum');
  h.rep.setLearners(Q, ['n4']);
  const first = h.calls.get('n4') ?? [];
  t.same(first.map((c) => c.m.t), [], 'nothing to send yet at head 0');
  h.rep.entries([entry(1, 0)]);
  const r = held(h);
  ack(h, 'n4');
  t.same(r.released, [], 'a learner acknowledging does not commit');
  t.equal(h.rep.progress(Q)?.acked.get('n4'), 1, 'its position is tracked');
  ack(h, 'n2');
  t.same(r.released, ['r'], 'leader + one replica of three commits, as before the learner came');
  h.rep.setLearners(Q, []);
  t.notOk(h.rep.progress(Q)?.acked.has('n4'), 'a removed learner is forgotten');
  // A queue with a head but no retained entries: the new learner is snapshotted at once.
  ack(h, 'n3');
  h.live.add('n5');
  h.rep.setLearners(Q, ['n5']);
  t.same((h.calls.get('n5') ?? []).map((c) => c.m.t), ['install'], 'an idle queue sends its snapshot');
});
