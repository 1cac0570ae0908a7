// The leader's handover (supervisor/cluster/handover.ts) as a unit: what it writes, and that every
// way it can fail leaves the queue served again (or left to the new metadata). Its ports (the
// shard's actor, the replicator's progress, etcd's compare-and-swap) are in-memory fakes here; the
// real ones run in test/cluster-move, -drain, -join and -rebalance.
import t from 'tap';
import { handOver, MoveError, type HandoverPorts } from '../src/supervisor/cluster/handover.js';
import type { QueueMeta } from '../src/supervisor/cluster/meta.js';

const META: QueueMeta = {
  name: 'q', id: '0123456789abcdef', attributes: {}, createdAt: 1, replicas: ['n1', 'n2', 'n3'], leader: 'n1', epoch: 4, acks: 'quorum', learners: ['n4'],
};
const PLAN = { leader: 'n4', replicas: ['n4', 'n2', 'n3'] };
const OPTS = { timeoutMs: 200, pollMs: 5 };

function ports(over: Partial<HandoverPorts> & { acked?: Record<string, number> } = {}) {
  const log: string[] = [];
  let current: QueueMeta | undefined = META;
  const p: HandoverPorts = {
    freeze: async () => void log.push('freeze'),
    resume: () => void log.push('resume'),
    progress: () => ({ head: 10, committed: 10, acked: new Map(Object.entries(over.acked ?? { n2: 10, n3: 10, n4: 10 })) }),
    isLive: () => true,
    current: () => current,
    update: async (next) => {
      log.push(`cas epoch ${next.epoch}`);
      current = next;
      return true;
    },
    ...over,
  };
  return { p, log, set: (m: QueueMeta | undefined) => (current = m) };
}

t.test('caught up: one CAS with the new placement, epoch + 1, no learners', async (t) => {
  const { p, log } = ports();
  const next = await handOver(p, 'n1', META, PLAN, OPTS);
  t.same(log, ['freeze', 'cas epoch 5']);
  t.same({ leader: next.leader, replicas: next.replicas, epoch: next.epoch, learners: next.learners }, { leader: 'n4', replicas: ['n4', 'n2', 'n3'], epoch: 5, learners: undefined });
});

t.test('the new leader never catches up: MoveFailed, and the old leader serves again', async (t) => {
  const { p, log } = ports({ acked: { n2: 10, n3: 10, n4: 9 } });
  await t.rejects(handOver(p, 'n1', META, PLAN, OPTS), MoveError);
  t.same(log, ['freeze', 'resume'], 'no CAS, resumed');
});

t.test('the CAS loses (the record changed): serves again if etcd still names it leader', async (t) => {
  const { p, log } = ports({ update: async () => false });
  await t.rejects(handOver(p, 'n1', META, PLAN, OPTS), { code: 'MoveFailed' });
  t.same(log, ['freeze', 'resume']);
});

t.test('a failover while frozen: no resume, the new metadata rules', async (t) => {
  const h = ports({ acked: { n2: 1, n3: 1, n4: 1 } });
  setTimeout(() => h.set({ ...META, leader: 'n2', epoch: 5 }), 20);
  await t.rejects(handOver(h.p, 'n1', META, PLAN, OPTS), /changed leader or epoch/);
  t.same(h.log, ['freeze'], 'left to the watch: the node steps down');
});

t.test('etcd unreachable for the CAS: resumes after the window if nothing changed', async (t) => {
  const { p, log } = ports({ update: async () => { throw new Error('etcd down'); } });
  await t.rejects(handOver(p, 'n1', META, PLAN, OPTS), /cannot write the handover/);
  t.same(log, ['freeze', 'resume']);
});

t.test('the CAS answer is lost but the write applied: the watch shows it, no resume', async (t) => {
  const h = ports();
  h.p.update = async (next) => {
    setTimeout(() => h.set(next), 20);
    throw new Error('connection reset');
  };
  const next = await handOver(h.p, 'n1', META, PLAN, OPTS);
  t.equal(next.epoch, 5);
  t.same(h.log, ['freeze'], 'not resumed: another node leads now');
});
