// Outside input to a cluster node that is not a client frame: peer-link frames and etcd metadata.
// Malformed CBOR on /peer closes that link only; a call before hello or a malformed call gets a
// BadFrame answer; junk under /ferry/queues/ in etcd is ignored. The node keeps serving clients.
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
});
