// Outside input to a cluster node that is not a client frame: peer-link frames and etcd metadata.
// Malformed CBOR on /peer closes that link only; a call before hello or a malformed call gets a
// BadFrame answer; junk under /ferry/queues/ and /ferry/reach/ in etcd is ignored. The node keeps serving clients.
import t from 'tap';
import WebSocket from 'ws';
import { connect } from '../src/client/index.js';
import { decodeFrame, encodeFrame } from '../src/protocol/codec.js';
import { startCluster, waitFor } from './helpers/cluster.js';

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextFrames(ws: WebSocket): Promise<unknown[]> {
  return new Promise((resolve) => ws.once('message', (data: Buffer) => {
    const v = decodeFrame(data);
    resolve(Array.isArray(v) ? v : [v]);
  }));
}

t.test('bad peer frames and bad etcd metadata', async (t) => {
  const cluster = await startCluster(t, 1);
  const node = cluster.nodes[0]!;
  const peerUrl = `ws://127.0.0.1:${node.port}/peer`;

  const garbage = await open(peerUrl);
  const closed = new Promise<number>((resolve) => garbage.once('close', (code) => resolve(code)));
  garbage.send(Buffer.from([0xff, 0xfe, 0x00]));
  t.equal(await closed, 1003, 'malformed CBOR closes the peer socket');

  const peer = await open(peerUrl);
  t.teardown(() => peer.close());
  peer.send(encodeFrame({ k: 'call', id: 1, m: { t: 'mark', qid: '0000000000000000' } }));
  t.match(await nextFrames(peer), [{ k: 'ret', id: 1, a: { error: { code: 'BadFrame' } } }], 'a call before hello is refused');
  peer.send(encodeFrame([{ k: 'hello', node: 'intruder' }, { k: 'call', id: 2, m: { t: 'repl', entry: { qid: 'nothex' } } }]));
  t.match(await nextFrames(peer), [{ k: 'ret', id: 2, a: { error: { code: 'BadFrame', message: 'malformed peer call' } } }], 'a malformed call is refused');
  peer.send(encodeFrame({ k: 'call', id: 3, m: { t: 'op', origin: 1, req: { op: 'send', args: { queue: 'nope', body: new Uint8Array(0) } } } }));
  t.match(await nextFrames(peer), [{ k: 'ret', id: 3, a: { error: { code: 'EmptyBody' } } }], 'forwarded requests are validated again');
  // Moves between queues (cluster-moves.ts): items and origins are checked before any shard sees them.
  const moves: unknown[] = [
    { t: 'insert', qid: '0000000000000000', items: [] },
    { t: 'insert', qid: '0000000000000000', items: [{ message: { id: 'm', body: 'not bytes' } }] },
    { t: 'insert', qid: '0000000000000000', items: [{ origin: { qid: 'nothex', seq: 1 }, message: { id: 'm', body: new Uint8Array(1) } }] },
    { t: 'insert', qid: 'nothex', items: [{ message: { id: 'm', body: new Uint8Array(1) } }] },
    { t: 'forget', qid: '0000000000000000', origin: { qid: '0000000000000000', seq: 'one' } },
  ];
  peer.send(encodeFrame(moves.map((m, i) => ({ k: 'call', id: 10 + i, m }))));
  const refused: unknown[] = [];
  while (refused.length < moves.length) refused.push(...await nextFrames(peer));
  t.same(refused.map((f) => (f as { a: { error: { code: string } } }).a.error.code), moves.map(() => 'BadFrame'), 'malformed moves are refused');
  peer.send(encodeFrame({ k: 'call', id: 20, m: { t: 'insert', qid: '0000000000000000', items: [{ message: { id: 'm', body: new Uint8Array(1) } }] } }));
  t.match(await nextFrames(peer), [{ k: 'ret', id: 20, a: { error: { code: 'NotLeader', retryable: true } } }], 'a move into a queue this node does not lead is refused');
  peer.send(encodeFrame({ k: 'call', id: 4, m: { t: 'handover', qid: '0000000000000000', epoch: 1, leader: 'n9', replicas: ['n1'] } }));
  t.match(await nextFrames(peer), [{ k: 'ret', id: 4, a: { error: { code: 'BadFrame' } } }], 'a handover whose leader is not in its replica set is refused');
  peer.send(encodeFrame({ k: 'call', id: 5, m: { t: 'handover', qid: '0000000000000000', epoch: 1, leader: 'n1', replicas: ['n1'] } }));
  t.match(await nextFrames(peer), [{ k: 'ret', id: 5, a: { error: { code: 'NotLeader' } } }], 'a handover of a queue this node does not lead is refused');
  peer.send(encodeFrame({ k: 'call', id: 6, m: { t: 'admin', req: { op: 'moveQueue', args: { queue: 'x', to: 'bad id!' } } } }));
  t.match(await nextFrames(peer), [{ k: 'ret', id: 6, a: { error: { code: 'InvalidField', field: 'to' } } }], 'supervisor ops from peers are validated again');
  peer.send(encodeFrame({ k: 'call', id: 7, m: { t: 'admin', req: { op: 'send', args: { queue: 'x', body: 'b' } } } }));
  t.match(await nextFrames(peer), [{ k: 'ret', id: 7, a: { error: { code: 'BadFrame' } } }], 'only supervisor ops go through admin');

  const { Etcd3 } = await import('etcd3');
  const etcd = new Etcd3({ hosts: cluster.etcd.url });
  t.teardown(() => etcd.close());
  await etcd.put('/ferry/queues/junk').value('{not json');
  await etcd.put('/ferry/queues/half').value(JSON.stringify({ name: 'half', id: 'zz' }));
  // Reachability reports (reachability.ts) that are not arrays of node ids.
  await etcd.put('/ferry/reach/n2').value('{"n1": true}');
  await etcd.put('/ferry/reach/n3').value('[1, 2]');
  await etcd.put('/ferry/queues/learn').value(JSON.stringify({
    name: 'learn', id: '00000000000000aa', attributes: {}, createdAt: 1, replicas: ['n1'], leader: 'n1', epoch: 1, acks: 'quorum', learners: [7],
  }));

  const client = await connect(node.url, { reconnect: false });
  t.teardown(() => client.close());
  await client.createQueue('fine');
  await client.queue('fine').send('still serving');
  const names = await waitFor('the new queue to be listed', async () => {
    const q = (await client.listQueues()).queues;
    return q.includes('fine') ? q : undefined;
  });
  t.same(names, ['fine'], 'malformed records are ignored');
  t.equal((await client.queue('fine').receive({ max: 1 })).length, 1);
  const res = await fetch(`${node.httpUrl}/cluster`);
  t.same(((await res.json()) as { cutOff: string[] }).cutOff, [], 'malformed reachability reports judge nobody');

  // Partitioned queues (src/supervisor/cluster/partition-ops.ts): `part` calls are checked too.
  await client.request('createQueue', { queue: 'pq', attributes: { ordering: 'strict' }, partitioning: { partitions: 1 } });
  const pq = JSON.parse((await etcd.get('/ferry/queues/pq').string())!) as { id: string; part: { gen: number } };
  const part = (id: number, m: Record<string, unknown>): void => peer.send(encodeFrame({ k: 'call', id, m: { t: 'part', origin: 1, qid: pq.id, ...m } }));
  peer.send(encodeFrame({ k: 'call', id: 10, m: { t: 'part', origin: 1, qid: 'nothex', req: { op: 'send', args: {} } } }));
  t.match(await nextFrames(peer), [{ k: 'ret', id: 10, a: { error: { code: 'BadFrame' } } }], 'a part call with a bad qid is refused');
  part(11, { req: { op: 'send', args: { body: 'x' } } });
  t.match(await nextFrames(peer), [{ k: 'ret', id: 11, a: { error: { code: 'InvalidField', field: 'gen' } } }], 'a send without its layout generation is refused');
  part(12, { gen: pq.part.gen + 1, req: { op: 'send', args: { body: 'x' } } });
  t.match(await nextFrames(peer), [{ k: 'ret', id: 12, a: { error: { code: 'NotLeader', retryable: true } } }], 'a send routed by another generation is refused (retryable)');
  part(13, { gen: pq.part.gen, req: { op: 'sendIfGroup', args: { group: 5, entries: [{ body: 'x' }] } } });
  t.match(await nextFrames(peer), [{ k: 'ret', id: 13, a: { error: { code: 'InvalidField', field: 'group' } } }], 'a bad group is refused');
  part(14, { gen: pq.part.gen, req: { op: 'sendIfGroup', args: { group: 'g', entries: [{ body: new Uint8Array(0) }] } } });
  t.match(await nextFrames(peer), [{ k: 'ret', id: 14, a: { error: { code: 'EmptyBody', field: 'entries.0.body' } } }], 'conditional entries are validated');
  peer.send(encodeFrame({ k: 'call', id: 15, m: { t: 'part', origin: 1, qid: '00000000000000ff', req: { op: 'receive', args: {} } } }));
  t.match(await nextFrames(peer), [{ k: 'ret', id: 15, a: { error: { code: 'QueueDoesNotExist' } } }], 'an unknown partition');
  part(16, { gen: pq.part.gen, req: { op: 'sendIfGroup', args: { group: 'g', entries: [{ body: 'x', groupId: 'g' }] } } });
  t.match(await nextFrames(peer), [{ k: 'ret', id: 16, a: { result: { notHere: true } } }], 'a well-formed conditional send runs');

  await etcd.put('/ferry/queues/pq#7').value(JSON.stringify({ ...pq, name: 'pq#7', id: '00000000000000aa', part: { of: 'other', index: 7, gen: 1 } }));
  await etcd.put('/ferry/queues/bad').value(JSON.stringify({ ...pq, name: 'bad', id: '00000000000000bb', part: { of: 'bad', index: 0, gen: 1 }, layout: { gen: 1, active: 3, total: 2, history: [3] } }));
  await client.queue('pq').send('still serving', { groupId: 'g' });
  t.same((await client.listQueues()).queues, ['fine', 'pq'], 'records with a bad partition or layout are ignored');
});
