// The floor pseudo-broker (loadtest/floor-server.ts) through the harness's own adapter, in each of
// its modes: a real process, real sockets, real worker threads and, with --sync, a real file and
// fdatasync. It starts, confirms, delivers every body in order through a small credit window, and
// on stop closes its connections, workers and files and exits on its own.
import t from 'tap';
import { existsSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { FloorAdapter } from '../loadtest/adapters/floor.js';
import { FLOOR_BROKERS } from '../loadtest/floor-process.js';
import { poll } from './helpers/bounded.js';
import { RawFloorSocket, startFloor } from './helpers/floor.js';

const BODY = 64;

function body(n: number): Uint8Array {
  const b = new Uint8Array(BODY);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

const numberOf = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

t.test('the floors are floor-2, floor-4 and floor-4-sync', async (t) => {
  t.same(FLOOR_BROKERS, ['floor-2', 'floor-4', 'floor-4-sync']);
});

for (const name of FLOOR_BROKERS) {
  t.test(`${name}: confirms every publish and delivers every body, in order, through a credit of 10; stops cleanly`, async (t) => {
    const adapter = new FloorAdapter(name);
    let open = true;
    t.teardown(() => (open ? adapter.close().catch(() => undefined) : undefined));
    await adapter.open();
    const [pid] = adapter.serverPids();
    const ready = adapter.ready!;
    t.ok(pid !== undefined && alive(pid), 'the server process runs');
    t.equal(ready.sync, name.endsWith('-sync'));
    t.equal(ready.workers, name === 'floor-2' ? 0 : 2);

    await adapter.createQueues(['q']);
    const got: number[] = [];
    const consumer = await adapter.consumer('q', 10, (bodies) => {
      for (const b of bodies) got.push(numberOf(b));
    });
    const producer = await adapter.producer();
    // Three publishes in one turn (one WebSocket message), then one more.
    await Promise.all([0, 1, 2].map((k) => producer.send('q', Array.from({ length: 100 }, (_, i) => body(k * 100 + i)))));
    await producer.send('q', [body(300)]);
    await poll('every body delivered', () => (got.length >= 301 ? true : undefined), { timeoutMs: 10_000, intervalMs: 10 });
    t.same(got, Array.from({ length: 301 }, (_, i) => i), 'every body once, in publish order');
    if (ready.sync) {
      const files = [0, 1].map((w) => `${ready.dir!}/worker-${w}.log`);
      const bytes = files.reduce((sum, f) => sum + (existsSync(f) ? statSync(f).size : 0), 0);
      t.equal(bytes, 301 * BODY, 'the confirmed bodies were appended to the sync files');
    }

    // A client still connected when the server stops is closed by it (1001).
    const raw = await RawFloorSocket.open(adapter.url);
    await producer.close();
    await consumer.stop();
    open = false;
    await adapter.close(); // throws unless the server exited by itself with code 0
    t.same((await raw.waitClosed()).code, 1001, 'a connected client is closed, going away');
    t.notOk(alive(pid!), 'the process is gone');
    t.ok(await refused(ready.port), 'nothing listens on its port');
    if (ready.dir !== undefined) t.notOk(existsSync(ready.dir), 'its temporary directory is removed');
  });
}

t.test('a server stopped with connections, subscriptions and queued bodies still exits on its own (code 0)', async (t) => {
  for (const args of [['--hops', '2'], ['--hops', '4', '--workers', '3', '--sync']]) {
    const floor = await startFloor(t, args);
    const adapter = new FloorAdapter('floor-4', floor.url);
    await adapter.open();
    await adapter.createQueues(['a', 'b']);
    const producer = await adapter.producer();
    await producer.send('a', [body(1), body(2)]);
    await adapter.consumer('b', 5, () => undefined);
    const exit = await floor.stop(5000);
    t.same(exit, { code: 0, signal: null }, `${args.join(' ')}: exited by itself after closing everything`);
    await producer.close();
    await adapter.close();
  }
});
