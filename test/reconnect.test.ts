// The client SDK across a broker restart (a clean SIGTERM stop and a start on the same port and
// data directory): it reconnects with backoff, a request made while it is reconnecting goes out
// on the next socket, and consume() subscribes again and keeps handling messages.
// (kill -9 of the broker and shard crashes are covered by the crash tests.)
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { waitFor } from './helpers/raw-socket.js';
import { connect, ErrorCodes, type FerryError } from '../src/client/index.js';

t.test('consume() and requests survive a broker restart', async (t) => {
  const broker = await startBroker(t);
  const client = await connect(broker.url, { backoff: { initialMs: 50, maxMs: 500 } });
  t.teardown(() => client.close());
  const events: string[] = [];
  client.on('disconnected', (info) => events.push(`disconnected ${info.code}`));
  client.on('connected', (_url, reconnected) => events.push(reconnected ? 'reconnected' : 'connected'));

  await client.createQueue('rc');
  const handled: string[] = [];
  const consumer = await client.queue('rc').consume((m) => {
    handled.push(Buffer.from(m.body).toString());
  }, { prefetch: 10 });
  await client.queue('rc').sendBatch(['a1', 'a2', 'a3']);
  await waitFor('the first three handled', () => (handled.length >= 3 ? true : undefined));

  // A long poll in flight when the broker stops is answered (empty) before the socket closes.
  const polling = client.queue('rc').receive({ waitMs: 20_000 }).then(
    (messages) => ({ messages: messages.length }),
    (err: FerryError) => ({ code: err.code, retryable: err.retryable }),
  );
  await client.getQueueAttributes('rc'); // answered after the long poll reached the shard (in order)
  const exit = await broker.stop('SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'broker stopped cleanly');
  const polled = await polling;
  t.same(polled, { messages: 0 }, 'the long poll was answered at shutdown');
  await waitFor('the client to notice', () => (client.state === 'reconnecting' ? true : undefined));
  t.match(events, ['disconnected 1001'], 'the server said it was going away (1001)');

  // Made while reconnecting: waits for the next socket.
  const sentWhileDown = client.queue('rc').send('while down');
  await broker.start();
  await waitFor('the reconnect', () => (events.includes('reconnected') ? true : undefined), 15_000);
  await sentWhileDown;
  await client.queue('rc').sendBatch(['b1', 'b2']);
  await waitFor('messages after the restart handled', () => (['while down', 'b1', 'b2'].every((b) => handled.includes(b)) ? true : undefined), 15_000);
  t.same([...new Set(handled)].sort(), ['a1', 'a2', 'a3', 'b1', 'b2', 'while down'], 'consume() subscribed again by itself');
  t.equal(client.state, 'open');
  await consumer.close();
  let stats = (await client.getQueueAttributes('rc')).stats;
  for (let i = 0; i < 50 && stats.visible + stats.leased > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    stats = (await client.getQueueAttributes('rc')).stats;
  }
  t.match(stats, { visible: 0, leased: 0 }, 'everything handled was acked');
});

t.test('without reconnect, pending requests settle with ConnectionClosed when the broker stops', async (t) => {
  const broker = await startBroker(t);
  const client = await connect(broker.url, { reconnect: false });
  t.teardown(() => client.close());
  await client.createQueue('rc-closed');
  const polling = client.queue('rc-closed').receive({ waitMs: 20_000 });
  await client.getQueueAttributes('rc-closed'); // answered after the long poll reached the shard (in order)
  await broker.stop('SIGTERM');
  // Shutdown answers long polls (empty) before closing sockets.
  t.same(await polling, [], 'the long poll was answered at shutdown');
  await waitFor('the client to close', () => (client.state === 'closed' ? true : undefined));
  await t.rejects(client.queue('rc-closed').send('x'), { code: ErrorCodes.ConnectionClosed });
});
