// The reachability rules (src/supervisor/cluster/reachability.ts): the verdict over etcd's reports,
// and what one node observes and publishes about its peers.
import t from 'tap';
import { cutOffNodes, Reachability, type ReachabilityPorts } from '../src/supervisor/cluster/reachability.js';
import { poll } from './helpers/bounded.js';

const live = (...ids: string[]): Set<string> => new Set(ids);
const reports = (r: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(r));

t.test('verdict: a majority of the live cluster must report a node', async (t) => {
  t.same([...cutOffNodes(live('n1', 'n2', 'n3'), reports({ n1: ['n2', 'n3'], n2: ['n1'], n3: ['n1'] }))], ['n1'], 'three nodes: the one both others cannot reach');
  t.same([...cutOffNodes(live('n1', 'n2', 'n3'), reports({ n2: ['n3'], n3: ['n2'] }))], [], 'three nodes, one link down: nobody');
  t.same([...cutOffNodes(live('n1', 'n2', 'n3'), reports({ n2: ['n1'] }))], [], 'one witness is not enough');
  t.same([...cutOffNodes(live('n1', 'n2'), reports({ n1: ['n2'], n2: ['n1'] }))], [], 'two nodes cannot tell who is cut off');
  t.same([...cutOffNodes(live('a', 'b', 'c', 'd'), reports({ a: ['c', 'd'], b: ['c', 'd'], c: ['a', 'b'], d: ['a', 'b'] }))], [], 'an even split: nobody');
  t.same([...cutOffNodes(live('a', 'b', 'c', 'd', 'e'), reports({ a: ['c', 'd', 'e'], b: ['c', 'd', 'e'], c: ['a', 'b'], d: ['a', 'b'], e: ['a', 'b'] }))].sort(), ['a', 'b'], 'five nodes split 2 | 3: the minority');
  t.same([...cutOffNodes(live('n1', 'n2', 'n3'), reports({ n2: ['n1'], n9: ['n1'] }))], [], 'reports of dead nodes do not count');
  t.same([...cutOffNodes(live('n1', 'n2', 'n3'), reports({ n2: ['n1', 'n1'] }))], [], 'a node is one witness however often it names a peer');
  t.same([...cutOffNodes(live('n2', 'n3'), reports({ n2: ['n1'], n3: ['n1'] }))], [], 'a node that is not a member is not judged');
  t.same([...cutOffNodes(live('n1', 'n2', 'n3'), reports({ n1: ['n1'], n2: ['n1'] }))], [], 'a node is no witness against itself');
});

function fakePorts(members: string[], answering: Set<string>): ReachabilityPorts & { published: string[][]; verdicts: string[][]; etcd: Map<string, string[]> } {
  const published: string[][] = [];
  const verdicts: string[][] = [];
  const etcd = new Map<string, string[]>();
  return {
    self: 'n1',
    members: () => new Set(members),
    reports: () => etcd,
    ping: (node, _timeoutMs, done) => setImmediate(() => done(answering.has(node))),
    publish: async (u) => void published.push(u),
    changed: (cut) => void verdicts.push([...cut]),
    warn: () => undefined,
    published, verdicts, etcd,
  };
}

t.test('observation: a peer is unreachable after the bound without an answer, with a grace for new members', async (t) => {
  const ports = fakePorts(['n1', 'n2', 'n3'], new Set(['n2']));
  const reach = new Reachability(ports, 1000);
  t.teardown(() => reach.close());
  const now = Date.now();
  t.same(reach.unreachable(now), [], 'new members get the bound as grace');
  t.same(reach.unreachable(now + 1001), ['n2', 'n3'], 'no answer for longer than the bound: both');
  await poll('the report that n3 is unreachable (n2 answers pings)', async () => (ports.published.some((p) => p.length === 1 && p[0] === 'n3') ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
  t.same(ports.published[0], [], 'the first report is empty (grace)');
  t.same(reach.unreachable(), ['n3'], 'n2 answers, n3 does not');
});

t.test('verdict changes are reported once each', async (t) => {
  const ports = fakePorts(['n1', 'n2', 'n3'], new Set(['n2', 'n3']));
  const reach = new Reachability(ports, 1000);
  t.teardown(() => reach.close());
  ports.etcd.set('n2', ['n1']);
  reach.reportsChanged();
  t.same(ports.verdicts, [], 'one witness: no verdict');
  ports.etcd.set('n3', ['n1']);
  reach.reportsChanged();
  reach.reportsChanged();
  t.same(ports.verdicts, [['n1']], 'two witnesses: n1 is cut off, reported once');
  t.ok(reach.isCutOff('n1'));
  ports.etcd.delete('n3');
  reach.reportsChanged();
  t.same(ports.verdicts, [['n1'], []], 'a witness withdraws: the verdict clears');
  t.notOk(reach.isCutOff('n1'));
});

t.test('a late beat (this node stalled) restarts the grace instead of blaming the peers', async (t) => {
  const ports = fakePorts(['n1', 'n2'], new Set()); // n2 never answers
  const reach = new Reachability(ports, 1000);
  t.teardown(() => reach.close());
  const t0 = Date.now() + 60_000; // beyond the timer's own beats
  reach.beat(t0);
  reach.beat(t0 + 500);
  t.same(reach.unreachable(t0 + 500), [], 'inside the grace');
  reach.beat(t0 + 1600); // 1100 ms since the last beat: this node was paused
  t.same(reach.unreachable(t0 + 1600), [], 'the pause is not the peer\'s fault');
  reach.beat(t0 + 2100);
  t.same(reach.unreachable(t0 + 2100), [], 'still inside the new grace');
  reach.beat(t0 + 2700);
  t.same(reach.unreachable(t0 + 2700), ['n2'], 'no answer for longer than the bound after the pause: unreachable');
});
