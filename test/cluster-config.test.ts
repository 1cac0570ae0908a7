// Cluster flags of `ferry server` (--cluster-etcd, --node-id, --advertise-url, --rebalance,
// --rebalance-min-rate and their FERRY_*
// variables): validated at once, each bad value named; without --cluster-etcd nothing changes.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverConfig } from '../src/cli/server.js';
import { UsageError } from '../src/cli/common.js';
import { FERRY_MAIN } from './helpers/broker.js';
import { DEFAULT_REBALANCE } from '../src/supervisor/cluster/rebalancer.js';

t.test('no cluster flags: the single-node broker', async (t) => {
  t.equal(serverConfig({}, {}).cluster, undefined);
});

t.test('flags and env give the cluster settings; flags win', async (t) => {
  t.same(serverConfig({ clusterEtcd: 'http://127.0.0.1:2379', nodeId: 'n1' }, {}).cluster, {
    etcd: ['http://127.0.0.1:2379'], nodeId: 'n1', advertiseUrl: undefined, rebalance: DEFAULT_REBALANCE,
  });
  t.same(serverConfig({}, { FERRY_CLUSTER_ETCD: 'http://a:1, http://b:2', FERRY_NODE_ID: 'x_1', FERRY_ADVERTISE_URL: 'ws://10.0.0.1:7701' }).cluster, {
    etcd: ['http://a:1', 'http://b:2'], nodeId: 'x_1', advertiseUrl: 'ws://10.0.0.1:7701', rebalance: DEFAULT_REBALANCE,
  });
  t.same(serverConfig({ clusterEtcd: 'http://a:1', nodeId: 'n1', rebalance: 'off', rebalanceMinRate: '250' }, {}).cluster?.rebalance,
    { ...DEFAULT_REBALANCE, enabled: false, minRate: 250 }, '--rebalance off, --rebalance-min-rate');
  t.same(serverConfig({ clusterEtcd: 'http://a:1', nodeId: 'n1' }, { FERRY_REBALANCE: 'off', FERRY_REBALANCE_MIN_RATE: '7' }).cluster?.rebalance,
    { ...DEFAULT_REBALANCE, enabled: false, minRate: 7 }, 'FERRY_REBALANCE, FERRY_REBALANCE_MIN_RATE');
  t.equal(serverConfig({ nodeId: 'flag' }, { FERRY_CLUSTER_ETCD: 'http://a:1', FERRY_NODE_ID: 'env' }).cluster?.nodeId, 'flag');
});

t.test('an unroutable queue in cluster mode: the name every node keeps unroutable sends in', async (t) => {
  t.equal(serverConfig({ clusterEtcd: 'http://a:1', nodeId: 'n1', unroutableQueue: 'lost' }, {}).unroutableQueue, 'lost');
});

const bad: Array<[Parameters<typeof serverConfig>[0], string]> = [
  [{ clusterEtcd: 'http://127.0.0.1:2379' }, 'nodeId: is required in cluster mode (--node-id)'],
  [{ clusterEtcd: 'http://127.0.0.1:2379', nodeId: 'has space' }, 'nodeId: must be 1-64 of [A-Za-z0-9_-], got "has space"'],
  [{ clusterEtcd: 'http://127.0.0.1:2379', nodeId: 'n'.repeat(65) }, `nodeId: must be 1-64 of [A-Za-z0-9_-], got "${'n'.repeat(65)}"`],
  [{ clusterEtcd: 'etcd:2379', nodeId: 'n1' }, 'clusterEtcd: must be a comma-separated list of http(s)://host:port URLs, got "etcd:2379"'],
  [{ clusterEtcd: 'ws://127.0.0.1:2379', nodeId: 'n1' }, 'clusterEtcd: must be a comma-separated list of http(s)://host:port URLs, got "ws://127.0.0.1:2379"'],
  [{ clusterEtcd: 'http://127.0.0.1', nodeId: 'n1' }, 'clusterEtcd: must be a comma-separated list of http(s)://host:port URLs, got "http://127.0.0.1"'],
  [{ clusterEtcd: 'http://a:1', nodeId: 'n1', advertiseUrl: 'http://a:7700' }, 'advertiseUrl: must be ws(s)://host:port with no path, got "http://a:7700"'],
  [{ clusterEtcd: 'http://a:1', nodeId: 'n1', advertiseUrl: 'ws://a:7700/ws' }, 'advertiseUrl: must be ws(s)://host:port with no path, got "ws://a:7700/ws"'],
  [{ nodeId: 'n1' }, 'nodeId: is only valid with clusterEtcd (--cluster-etcd)'],
  [{ advertiseUrl: 'ws://a:1' }, 'advertiseUrl: is only valid with clusterEtcd (--cluster-etcd)'],
  [{ clusterEtcd: 'http://a:1', nodeId: 'n1', rebalance: 'maybe' }, 'rebalance: must be on or off, got "maybe"'],
  [{ clusterEtcd: 'http://a:1', nodeId: 'n1', rebalanceMinRate: '0' }, 'rebalanceMinRate: must be an integer from 1 to 10000000, got "0"'],
  [{ clusterEtcd: 'http://a:1', nodeId: 'n1', rebalanceMinRate: 'fast' }, 'rebalanceMinRate: must be an integer from 1 to 10000000, got "fast"'],
  [{ rebalance: 'off' }, 'rebalance: is only valid with clusterEtcd (--cluster-etcd)'],
  [{ rebalanceMinRate: '5' }, 'rebalanceMinRate: is only valid with clusterEtcd (--cluster-etcd)'],
];

for (const [flags, message] of bad) {
  t.test(`rejects ${JSON.stringify(flags)}`, async (t) => {
    t.throws(() => serverConfig(flags, {}), new UsageError(message));
  });
}

t.test('an unreachable etcd: one clear line, exit 1, in bounded time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const proc = spawn(process.execPath, [FERRY_MAIN, 'server', '--port', '0', '--shards', '1', '--data-dir', dir, '--cluster-etcd', 'http://127.0.0.1:1', '--node-id', 'n1', '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  clearTimeout(timer);
  t.equal(code, 1);
  t.match(stderr, /^ferry: cannot start the broker: cannot join the cluster through etcd http:\/\/127\.0\.0\.1:1: /);
  t.equal(stderr.trim().split('\n').length, 1, 'one line');
});
