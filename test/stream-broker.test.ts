// Stream mode through a real broker: two consumer groups at different positions over the
// protocol, committed positions across a kill -9 restart, seek/replay, and the bad inputs.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { connect, type FerryClient } from '../src/client/index.js';

const bodies = (ms: Array<{ body: Uint8Array }>): string[] => ms.map((m) => Buffer.from(m.body).toString());

t.test('two groups, committed positions survive kill -9, seek replays', async (t) => {
  const broker = await startBroker(t, { shards: 2 });
  let client: FerryClient = await connect(broker.url, { reconnect: false });
  await client.createQueue('events', { mode: 'stream', visibilityMs: 60_000 });
  await client.queue('events').sendBatch(Array.from({ length: 100 }, (_, i) => `e${i}`));
  t.match(await client.createGroup('events', 'all', 'earliest'), { group: 'all', committed: 0, position: 0, lag: 100 });
  t.match(await client.createGroup('events', 'tail', { offset: 90 }), { position: 90 });
  const all = await client.queue('events').receive({ group: 'all', max: 1000 });
  t.equal(all.length, 100);
  const tail = await client.queue('events').receive({ group: 'tail', max: 1000 });
  t.same(bodies(tail), Array.from({ length: 10 }, (_, i) => `e${90 + i}`));
  await client.queue('events').deleteBatch(all.slice(0, 60).map((m) => m.receipt));
  t.equal((await client.getQueueAttributes('events')).stats.messages, 100, 'acks keep the log');
  await t.rejects(client.queue('events').receive({ max: 1 }), { code: 'MissingField', field: 'group' });
  await t.rejects(client.queue('events').receive({ group: 'nobody' }), { code: 'GroupDoesNotExist', field: 'group' });
  await t.rejects(client.createGroup('events', 'all'), { code: 'GroupAlreadyExists', field: 'group' });
  await t.rejects(client.createGroup('events', 'x', { offset: -1 } as never), { code: 'ValueOutOfRange', field: 'start.offset' });

  await client.close();
  await broker.kill();
  await broker.start();
  client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  const groups = await client.listGroups('events');
  t.match(groups.find((g) => g.group === 'all'), { committed: 60, position: 60 });
  t.match(groups.find((g) => g.group === 'tail'), { committed: 90, position: 90 });
  const rest = await client.queue('events').receive({ group: 'all', max: 1000 });
  t.same(bodies(rest), Array.from({ length: 40 }, (_, i) => `e${60 + i}`), 'unacknowledged ones come again after the restart');
  await client.seek('events', 'tail', 'earliest');
  t.equal((await client.queue('events').receive({ group: 'tail', max: 1000 })).length, 100, 'replay from the start');

  // consume() with a group: pushes, acks by deleteBatch for that group.
  await client.createGroup('events', 'pushed', 'earliest');
  const seen: string[] = [];
  const consumer = await client.queue('events').consume((m) => {
    seen.push(Buffer.from(m.body).toString());
  }, { group: 'pushed', prefetch: 10 });
  for (let i = 0; i < 200 && seen.length < 100; i++) await new Promise((r) => setTimeout(r, 50));
  await consumer.close();
  t.equal(seen.length, 100, 'a consumer on a group gets the whole log');
  for (let i = 0; i < 100; i++) {
    const g = (await client.listGroups('events')).find((x) => x.group === 'pushed')!;
    if (g.committed === 100) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.match((await client.listGroups('events')).find((x) => x.group === 'pushed'), { committed: 100, position: 100 }, 'its acks committed the group');
});
