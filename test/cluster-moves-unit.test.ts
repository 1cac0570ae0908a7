// The ordering rules of moves between queues in a cluster (supervisor/cluster/cluster-moves.ts),
// driven step by step through its ports: races such as "the source's leader is deposed between
// the target's answer and the forget" cannot be produced on demand with real processes, so the
// node around the module is a stand-in here (cluster-moves.test.ts runs the real thing).
import t from 'tap';
import type { WireError } from '../src/protocol/errors.js';
import { ClusterMoves, type ClusterMovesPorts } from '../src/supervisor/cluster/cluster-moves.js';
import type { QueueMeta } from '../src/supervisor/cluster/meta.js';
import type { PeerCall } from '../src/supervisor/cluster/peer-messages.js';
import type { InsertOutcome } from '../src/supervisor/forwarder.js';
import type { Answer, ShardPool } from '../src/supervisor/shard-pool.js';
import type { PeerAnswer } from '../src/transport/peer-frames.js';
import { poll } from './helpers/bounded.js';

const SRC = 'aaaaaaaaaaaaaaaa';
const DLQ = 'bbbbbbbbbbbbbbbb';
const meta = (name: string, id: string, leader: string): QueueMeta => ({ name, id, leader, attributes: {}, createdAt: 1, replicas: ['n1', 'n2', 'n3'], epoch: 1, acks: 'quorum' });

/** A node stand-in: queues, leadership, holds released by hand, peer calls recorded and answered by hand. */
function node(): {
  ports: ClusterMovesPorts;
  queues: Map<string, QueueMeta>;
  leading: Set<string>;
  holds: Array<{ qid: string; release(): void; fail(e: WireError): void }>;
  calls: Array<{ node: string; m: PeerCall; done(a: PeerAnswer): void }>;
  pool: { requests: number; sent: unknown[]; answer: Answer };
} {
  const queues = new Map([['src', meta('src', SRC, 'n1')], ['dlq', meta('dlq', DLQ, 'n2')]]);
  const leading = new Set([SRC]);
  const holds: Array<{ qid: string; release(): void; fail(e: WireError): void }> = [];
  const calls: Array<{ node: string; m: PeerCall; done(a: PeerAnswer): void }> = [];
  const pool = { requests: 0, sent: [] as unknown[], answer: { result: { inserted: 1 } } as Answer };
  const fakePool = {
    request: (_shard: number, _build: unknown, done: (a: Answer) => void) => {
      pool.requests++;
      done(pool.answer);
    },
    send: (_shard: number, m: unknown) => pool.sent.push(m),
  } as unknown as ShardPool;
  const ports: ClusterMovesPorts = {
    queue: (name) => queues.get(name),
    queueById: (qid) => [...queues.values()].find((q) => q.id === qid),
    leads: (qid) => leading.has(qid),
    serving: (qid) => (leading.has(qid) ? { shard: 0 } : { error: { code: 'NotLeader', message: 'not here', retryable: true } }),
    committed: (qid, release, fail) => holds.push({ qid, release, fail }),
    call: (n, m, done) => calls.push({ node: n, m, done }),
    pool: () => fakePool,
  };
  return { ports, queues, leading, holds, calls, pool };
}

const record = { target: 'dlq', message: { id: 'm1', body: Buffer.from('x') } };
const F = { qid: SRC, seq: 7 };

t.test('a move waits for the source\'s commit, goes to the target\'s leader, and is stored once it answers', async (t) => {
  const n = node();
  const moves = new ClusterMoves(n.ports);
  t.teardown(() => moves.close());
  const outcomes: Array<InsertOutcome<{ qid: string }>> = [];
  moves.insert(F, record, (o) => outcomes.push(o));
  t.same(n.calls, [], 'nothing reaches the target before the source\'s batch is committed');
  t.equal(n.holds[0]?.qid, SRC);
  n.holds[0]!.release();
  t.match(n.calls, [{ node: 'n2', m: { t: 'insert', qid: DLQ, items: [{ origin: F, message: { id: 'm1' } }] } }], 'then to the DLQ\'s leader, with its origin');
  t.same(outcomes, [], 'not stored until the target answers');
  n.calls[0]!.done({ result: { inserted: 1 } });
  t.same(outcomes, [{ stored: { qid: DLQ } }]);
});

t.test('a move is retried while the target cannot take it, and dropped once this node stops leading the source', async (t) => {
  const n = node();
  const moves = new ClusterMoves(n.ports);
  t.teardown(() => moves.close());
  const outcomes: Array<InsertOutcome<{ qid: string }>> = [];
  moves.insert({ qid: SRC, seq: 1 }, { ...record, target: 'missing' }, (o) => outcomes.push(o));
  n.holds[0]!.release();
  moves.insert({ qid: SRC, seq: 2 }, record, (o) => outcomes.push(o));
  n.holds[1]!.release();
  n.calls[0]!.done({ error: { code: 'PeerUnavailable', message: 'down', retryable: true } });
  moves.insert({ qid: SRC, seq: 3 }, record, (o) => outcomes.push(o));
  n.holds[2]!.fail({ code: 'NotEnoughReplicas', message: 'slow', retryable: true });
  t.same(outcomes, ['retry', 'retry', 'retry'], 'no target yet, target unreachable, source not committed in time');

  moves.insert({ qid: SRC, seq: 4 }, record, (o) => outcomes.push(o));
  n.holds[3]!.release();
  n.leading.delete(SRC);
  n.calls[1]!.done({ result: { inserted: 1 } });
  moves.insert({ qid: SRC, seq: 5 }, record, (o) => outcomes.push(o));
  t.same(outcomes.slice(3), ['drop', 'drop'], 'deposed: an answer in flight and a new attempt are both dropped (the new leader replays them)');
});

t.test('the marker is forgotten only after the source\'s deletion is committed, and never by a deposed leader', async (t) => {
  const n = node();
  const moves = new ClusterMoves(n.ports);
  t.teardown(() => moves.close());
  moves.forget({ qid: DLQ }, F);
  t.same(n.calls, [], 'waits for the commit of the deletion of F');
  n.holds[0]!.release();
  t.match(n.calls, [{ node: 'n2', m: { t: 'forget', qid: DLQ, origin: F } }]);

  moves.forget({ qid: DLQ }, { qid: SRC, seq: 8 });
  n.leading.delete(SRC);
  n.holds[1]!.release(); // the Replicator releases at once for a queue it no longer leads
  moves.forget({ qid: DLQ }, { qid: SRC, seq: 9 });
  t.equal(n.calls.length, 1, 'a deposed leader forgets nothing: the new leader may replay the move');

  n.leading.add(SRC);
  moves.forget({ qid: DLQ }, { qid: SRC, seq: 10 });
  n.holds[2]!.release();
  n.calls[1]!.done({ error: { code: 'PeerUnavailable', message: 'down', retryable: true } });
  await poll('the forget to be tried again', () => (n.holds.length === 4 ? true : undefined), { timeoutMs: 5000, intervalMs: 50 });
  n.holds[3]!.release();
  t.match(n.calls[2], { node: 'n2', m: { t: 'forget', origin: { seq: 10 } } }, 'a failed forget is tried again');
});

t.test('the target\'s leader answers a move only once its write is committed', async (t) => {
  const n = node();
  n.leading.add(DLQ);
  const moves = new ClusterMoves(n.ports);
  t.teardown(() => moves.close());
  const answers: Answer[] = [];
  moves.accept(DLQ, [{ origin: F, message: record.message }], (a) => answers.push(a));
  t.equal(n.pool.requests, 1, 'stored in the local shard');
  t.same(answers, [], 'held until committed');
  t.equal(n.holds[0]?.qid, DLQ);
  n.holds[0]!.release();
  t.same(answers, [{ result: { inserted: 1 } }]);

  moves.accept(DLQ, [{ message: record.message }], (a) => answers.push(a));
  n.holds[1]!.fail({ code: 'NotEnoughReplicas', message: 'slow', retryable: true });
  moves.accept('cccccccccccccccc', [{ message: record.message }], (a) => answers.push(a));
  t.match(answers.slice(1), [{ error: { code: 'NotEnoughReplicas' } }, { error: { code: 'NotLeader', retryable: true } }]);

  moves.acceptForget(DLQ, F, (a) => answers.push(a));
  t.same(n.pool.sent, [{ t: 'forget', qid: DLQ, origin: F }]);
});

t.test('unroutable sends go to the unroutable queue\'s leader; the producer hears where they were kept', async (t) => {
  const n = node();
  const moves = new ClusterMoves(n.ports);
  t.teardown(() => moves.close());
  const answers: Answer[] = [];
  moves.keepUnroutable(undefined, 'ghost', [{ body: Buffer.from('a') }], (a) => answers.push(a));
  moves.keepUnroutable('nope', 'ghost', [{ body: Buffer.from('a') }], (a) => answers.push(a));
  t.same(n.calls, [], 'no unroutable queue, or it does not exist: nothing kept');
  moves.keepUnroutable('dlq', 'ghost', [{ body: Buffer.from('a') }, { body: Buffer.from('b') }], (a) => answers.push(a));
  t.match(n.calls[0], { node: 'n2', m: { t: 'insert', qid: DLQ, items: [{ message: { deadLetter: { reason: 'noSuchQueue', sourceQueue: 'ghost' } } }, {}] } });
  n.calls[0]!.done({ result: {} });
  moves.keepUnroutable('dlq', 'ghost', [{ body: Buffer.from('c') }], (a) => answers.push(a));
  n.calls[1]!.done({ error: { code: 'NotLeader', message: 'moved', retryable: true } });
  moves.keepUnroutable('dlq', 'ghost', [{ body: Buffer.from('d') }], (a) => answers.push(a));
  n.calls[2]!.done({ error: { code: 'Internal', message: 'broken' } });
  t.match(answers, [
    { error: { code: 'QueueDoesNotExist', keptIn: undefined } },
    { error: { code: 'QueueDoesNotExist', keptIn: undefined } },
    { error: { code: 'QueueDoesNotExist', keptIn: 'dlq', message: /messages were kept in queue dlq/ } },
    { error: { code: 'NotLeader', retryable: true } },
    { error: { code: 'QueueDoesNotExist', keptIn: undefined } },
  ], 'a retryable failure is passed on (the front end tries again); any other leaves the plain error');
});

t.test('a deleted queue this node led: its moves and their forgets go on until its shard says its outbox is empty', async (t) => {
  const n = node();
  const moves = new ClusterMoves(n.ports);
  t.teardown(() => moves.close());
  // The cluster deletes the source while this node leads it.
  n.queues.delete('src');
  n.leading.delete(SRC);
  moves.retire(SRC);
  t.equal(moves.retiredCount, 1);
  const outcomes: Array<InsertOutcome<{ qid: string }>> = [];
  moves.insert(F, record, (o) => outcomes.push(o));
  n.holds[0]!.release();
  n.calls[0]!.done({ result: { inserted: 1 } });
  t.same(outcomes, [{ stored: { qid: DLQ } }], 'carried although no node leads the source any more');
  moves.drained(SRC);
  t.equal(moves.retiredCount, 0, 'not kept once its shard has no outbox record left');
  moves.forget({ qid: DLQ }, F);
  n.holds[1]!.release();
  t.match(n.calls[1], { node: 'n2', m: { t: 'forget', qid: DLQ, origin: F } }, 'the marker of its last move is still forgotten: no leader is left to replay that move');
  moves.insert({ qid: SRC, seq: 8 }, record, (o) => outcomes.push(o));
  t.same(outcomes.at(-1), 'drop', 'a record of it seen after that is not carried');
});
