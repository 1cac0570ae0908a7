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

  const { Etcd3 } = await import('etcd3');
  const etcd = new Etcd3({ hosts: cluster.etcd.url });
  t.teardown(() => etcd.close());
  await etcd.put('/ferry/queues/junk').value('{not json');
  await etcd.put('/ferry/queues/half').value(JSON.stringify({ name: 'half', id: 'zz' }));

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
