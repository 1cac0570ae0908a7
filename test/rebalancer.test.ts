// The supervisor's move decisions as pure functions (supervisor/cluster/rebalancer.ts,
// handover.ts, load-meter.ts): drains, isolation with its hysteresis and cooldown, spreading
// onto a new node, and the handover's readiness rule. The moves themselves run against real
// processes in test/cluster-move, -drain, -join and -rebalance.
import t from 'tap';
import { handoverReady } from '../src/supervisor/cluster/handover.js';
import { LoadMeter, type QueueLoad } from '../src/supervisor/cluster/load-meter.js';
import type { QueueMeta } from '../src/supervisor/cluster/meta.js';
import { planDrain, Rebalancer, type ClusterView } from '../src/supervisor/cluster/rebalancer.js';

function q(name: string, leader: string, replicas: string[], learners?: string[]): QueueMeta {
  return { name, id: '0123456789abcdef', attributes: {}, createdAt: 0, leader, replicas, epoch: 1, acks: 'quorum', ...(learners ? { learners } : {}) };
}

function view(queues: QueueMeta[], load: Record<string, number> = {}, live = ['n1', 'n2', 'n3'], draining: string[] = []): ClusterView {
  return {
    live, draining: new Set(draining), queues,
    load: new Map(Object.entries(load).map(([k, msgs]): [string, QueueLoad] => [k, { msgs, bytes: 0 }])), moving: new Set(),
  };
}

const settings = { enabled: true, minRate: 100, ratio: 2, sustain: 2, cooldownMs: 10_000 };

t.test('drain: a leader hands over to the spare node, a follower is replaced by it', async (t) => {
  const live = ['n1', 'n2', 'n3', 'n4'];
  t.same(planDrain(view([q('a', 'n1', ['n1', 'n2', 'n3'])], {}, live, ['n1'])),
    { queue: 'a', plan: { leader: 'n4', replicas: ['n4', 'n2', 'n3'] }, why: 'drain of node n1' });
  t.same(planDrain(view([q('b', 'n2', ['n1', 'n2', 'n3'])], {}, live, ['n1']))?.plan, { leader: 'n2', replicas: ['n4', 'n2', 'n3'] });
  t.same(planDrain(view([q('c', 'n1', ['n1', 'n2', 'n3'])], { c: 0 }, ['n1', 'n2', 'n3'], ['n1']))?.plan, { leader: 'n2', replicas: ['n2', 'n3'] }, 'no spare: the set shrinks, a follower leads');
  t.equal(planDrain(view([q('d', 'n2', ['n2', 'n3'])], {}, live, ['n1'])), undefined, 'nothing on the node: nothing to do');
  t.equal(planDrain(view([q('e', 'n1', ['n1', 'n2', 'n3'], ['n4'])], {}, live, ['n1'])), undefined, 'a move already under way is left alone');
  t.equal(planDrain(view([q('f', 'n9', ['n9', 'n1'])], {}, live, ['n1'])), undefined, 'a queue whose leader is dead fails over first');
  t.equal(planDrain(view([q('g', 'n1', ['n1'])], {}, ['n1'], ['n1'])), undefined, 'the only copy on the only node stays');
});

t.test('isolation: a hot node sheds a queue after `sustain` samples, the lighter one on a tie', async (t) => {
  const r = new Rebalancer(settings);
  const queues = [q('hot', 'n1', ['n1', 'n2', 'n3']), q('light', 'n1', ['n1', 'n2', 'n3']), q('other', 'n2', ['n1', 'n2', 'n3'])];
  const v = view(queues, { hot: 1000, light: 10, other: 5 });
  t.equal(r.decide(v, 0), undefined, 'first hot sample: wait');
  const move = r.decide(v, 1000);
  t.same(move?.queue, 'light', 'the light queue leaves the hot node');
  t.same(move?.plan, { leader: 'n3', replicas: ['n1', 'n2', 'n3'] }, 'to the coolest follower: a leadership transfer, no copy');
  r.moved('light', 1000);
  t.equal(r.decide(v, 2000), undefined, 'hysteresis: the streak starts again');
  const next = r.decide(v, 3000);
  t.not(next?.queue, 'light', 'a queue in its cooldown does not move again');
});

t.test('isolation: no move below minRate, under the ratio, or with one queue on the hot node', async (t) => {
  const r = new Rebalancer(settings);
  const two = [q('a', 'n1', ['n1', 'n2', 'n3']), q('b', 'n1', ['n1', 'n2', 'n3'])];
  for (let i = 0; i < 3; i++) t.equal(r.decide(view(two, { a: 40, b: 40 }), i), undefined, 'below minRate');
  const spread = [q('a', 'n1', ['n1', 'n2', 'n3']), q('b', 'n1', ['n1', 'n2', 'n3']), q('c', 'n2', ['n1', 'n2', 'n3']), q('d', 'n3', ['n1', 'n2', 'n3'])];
  for (let i = 0; i < 3; i++) t.equal(r.decide(view(spread, { a: 100, b: 100, c: 150, d: 150 }), i), undefined, 'under the ratio');
  const alone = [q('a', 'n1', ['n1', 'n2', 'n3'])];
  for (let i = 0; i < 3; i++) t.equal(r.decide(view(alone, { a: 5000 }), i), undefined, 'one hot queue alone is not moved around');
  const off = new Rebalancer({ ...settings, enabled: false });
  for (let i = 0; i < 3; i++) t.equal(off.decide(view(two, { a: 5000, b: 10 }), i), undefined, 'disabled');
});

t.test('join: copies spread from the fullest node onto an empty one, leaders first', async (t) => {
  const r = new Rebalancer(settings);
  const queues = [q('a', 'n1', ['n1', 'n2', 'n3']), q('b', 'n2', ['n1', 'n2', 'n3']), q('c', 'n3', ['n1', 'n2', 'n3'])];
  const move = r.decide(view(queues, {}, ['n1', 'n2', 'n3', 'n4']), 0);
  t.same(move, { queue: 'a', plan: { leader: 'n4', replicas: ['n4', 'n2', 'n3'] }, why: 'spread: node n1 holds 3 copies, n4 holds 0' });
  t.equal(r.decide(view(queues, {}, ['n1', 'n2', 'n3']), 0), undefined, 'balanced: nothing');
});

t.test('handover readiness: committed, held by the new leader and by enough of the new set', async (t) => {
  const live = (): boolean => true;
  const p = (head: number, committed: number, acked: Record<string, number>) => ({ head, committed, acked: new Map(Object.entries(acked)) });
  const toN4 = { leader: 'n4', replicas: ['n4', 'n2', 'n3'] };
  t.notOk(handoverReady(p(10, 10, { n2: 10, n3: 10, n4: 9 }), 'n1', toN4, 'quorum', live), 'the new leader lacks the head');
  t.ok(handoverReady(p(10, 10, { n2: 10, n3: 3, n4: 10 }), 'n1', toN4, 'quorum', live), 'n4 and n2: a majority of the new set');
  t.notOk(handoverReady(p(10, 10, { n2: 3, n3: 3, n4: 10 }), 'n1', toN4, 'quorum', live), 'the old leader leaves: n4 alone is no majority');
  t.notOk(handoverReady(p(10, 8, { n2: 10, n3: 10, n4: 10 }), 'n1', toN4, 'quorum', live), 'not committed under the old set yet');
  t.ok(handoverReady(p(10, 10, { n2: 10, n3: 3 }), 'n1', { leader: 'n2', replicas: ['n1', 'n2', 'n3'] }, 'quorum', live), 'transfer to a follower holding the head');
  t.ok(handoverReady(p(10, 10, { n4: 10 }), 'n1', toN4, 'leader', live), 'acks=leader: the new leader alone');
});

t.test('load meter: rates per second since the last sample', async (t) => {
  const m = new LoadMeter(0);
  m.note('a', 10, 2048);
  m.note('a', 10, 0);
  t.same(m.sample(2000), { a: { msgs: 10, bytes: 1024 } });
  t.same(m.sample(3000), {}, 'a new window');
});
