// The harness's bounded connects and closes (loadtest/bounded.ts), and every adapter's idle client
// against a broker that accepts connections and never says a word (what RabbitMQ did when the
// memory-idle scenario hung): the scenario must end with what it reached, and every socket the
// harness opened must be closed again.
import t from 'tap';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { attempt, closeMany, openMany, AttemptTimeout } from '../loadtest/bounded.js';
import { IDLE_CONNECT_MS, type BrokerAdapter } from '../loadtest/adapters/adapter.js';
import { FerryAdapter } from '../loadtest/adapters/ferry.js';
import { NatsAdapter } from '../loadtest/adapters/nats.js';
import { RabbitAdapter } from '../loadtest/adapters/rabbitmq.js';
import { RedisAdapter } from '../loadtest/adapters/redis.js';
import { waitFor, within } from './helpers/bounded.js';

/** A TCP server on a free loopback port that accepts every connection and never writes. */
async function silentServer(t: { teardown(fn: () => unknown): void }): Promise<{ port: number; open: () => number; accepted: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.resume(); // read and drop what clients send: a close is seen only once their bytes are consumed
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as { port: number }).port, open: () => sockets.size, accepted: () => accepted };
}

/** A raw connection that waits for a greeting the silent server never sends; gives up on abort. */
function greetedSocket(port: number, signal: AbortSignal): Promise<{ close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1');
    s.on('error', reject);
    s.once('data', () => resolve({ close: async () => void s.destroy() }));
    signal.addEventListener('abort', () => {
      s.destroy();
      reject(new Error('aborted'));
    }, { once: true });
  });
}

t.test('openMany against a server that never answers: stops at the first timed-out attempt, nothing left open', async (t) => {
  const srv = await silentServer(t);
  const started = performance.now();
  const result = await within(openMany({
    count: 10_000, concurrency: 20, attemptMs: 300, deadline: performance.now() + 60_000,
    open: (_, signal) => greetedSocket(srv.port, signal),
  }), 30_000, 'openMany');
  t.equal(result.opened.length, 0);
  t.match(result.stoppedBy, /^connection \d+ of 10000 failed: connection \d+: no answer within 300 ms$/);
  t.ok(srv.accepted() <= 20, `no attempt started after the first failure was seen (${srv.accepted()} accepted)`);
  t.ok(performance.now() - started < 30_000);
  await waitFor(() => srv.open() === 0, { timeoutMs: 10_000, what: 'every connection closed' });
});

t.test('openMany stops at its deadline with what it reached, and reports it', async (t) => {
  let n = 0;
  const result = await within(openMany({
    count: 1_000_000, concurrency: 4, attemptMs: 1000, deadline: performance.now() + 300,
    open: async () => {
      n++;
      await new Promise((r) => setTimeout(r, 5));
      return { close: async () => undefined };
    },
  }), 10_000, 'openMany');
  t.ok(result.opened.length > 0 && result.opened.length < 1_000_000 && result.opened.length <= n, `${result.opened.length} opened of ${n} tried`);
  t.equal(result.stoppedBy, 'the deadline passed');
  const all = await openMany({ count: 7, concurrency: 3, attemptMs: 1000, deadline: performance.now() + 10_000, open: async () => ({ close: async () => undefined }) });
  t.equal(all.opened.length, 7);
  t.equal(all.stoppedBy, undefined, 'all opened: no reason given');
});

t.test('a connection that opens after its attempt timed out is closed, not leaked', async (t) => {
  let closed = 0;
  let finish!: () => void;
  const late = new Promise<void>((r) => (finish = r));
  const err = await attempt(async () => {
    await late;
    return { close: async () => void closed++ };
  }, 50, 'late one').catch((e: unknown) => e);
  t.type(err, AttemptTimeout);
  t.equal((err as AttemptTimeout).code, 'AttemptTimeout');
  finish();
  await waitFor(() => closed === 1, { timeoutMs: 5000, what: 'the late connection closed' });
});

t.test('closeMany gives up on a close that never finishes', async (t) => {
  let done = 0;
  const items = [
    { close: () => new Promise<void>(() => undefined) },
    { close: async () => void done++ },
    { close: async () => Promise.reject(new Error('already gone')) },
    { close: async () => void done++ },
  ];
  await within(closeMany(items, 2, 200), 5000, 'closeMany');
  t.equal(done, 2, 'the others were closed');
});

t.test("every adapter's idle client against a silent broker: given up within the attempt bound, its socket closed", async (t) => {
  const srv = await silentServer(t);
  const adapters: BrokerAdapter[] = [
    new RabbitAdapter('classic', '/nonexistent.pid', `amqp://guest:guest@127.0.0.1:${srv.port}`),
    new NatsAdapter('/nonexistent.pid', `127.0.0.1:${srv.port}`),
    new RedisAdapter(srv.port),
    new FerryAdapter(`ws://127.0.0.1:${srv.port}/ws`, () => undefined, 'test'),
  ];
  for (const adapter of adapters) {
    const result = await within(openMany({
      count: 10_000, concurrency: 5, attemptMs: 300, deadline: performance.now() + 20_000,
      open: (_, signal) => adapter.idleClient('q', '127.0.0.1', signal),
    }), 20_000, `${adapter.name}: openMany`);
    t.equal(result.opened.length, 0, `${adapter.name}: nothing opened`);
    t.match(result.stoppedBy, /^connection \d+ of 10000 failed: /, `${adapter.name}: stopped and said why (${result.stoppedBy})`);
  }
  // Clients that cannot be aborted mid-connect (amqplib, nats) give up by their own connect bound.
  await waitFor(() => srv.open() === 0, { timeoutMs: IDLE_CONNECT_MS + 10_000, intervalMs: 100, what: 'every socket closed' });
  t.pass(`all ${srv.accepted()} connections the adapters made were closed`);
});
