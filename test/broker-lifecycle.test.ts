// The broker process as a user meets it: one ready line, /healthz and /readyz, and a clean exit 0
// on SIGTERM and SIGINT with its data directory reusable at once.
import t from 'tap';
import { startBroker } from './helpers/broker.js';
import { connect } from '../src/client/index.js';

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`starts, serves /healthz, and exits 0 on ${signal}`, async (t) => {
    const broker = await startBroker(t);
    const ready = broker.output.split('\n').filter((l) => l.includes('ferry ready'));
    t.equal(ready.length, 1, 'exactly one ready line');
    const health = await fetch(`${broker.httpUrl}/healthz`);
    t.equal(health.status, 200);
    const readyz = await fetch(`${broker.httpUrl}/readyz`);
    t.equal(readyz.status, 200);
    const client = await connect(broker.url, { reconnect: false });
    await client.createQueue('lifecycle');
    await client.queue('lifecycle').send('kept');
    await client.close();
    const exit = await broker.stop(signal);
    t.same(exit, { code: 0, signal: null }, 'clean exit 0');
    await broker.start();
    const again = await connect(broker.url, { reconnect: false });
    const got = await again.queue('lifecycle').receive({ max: 10 });
    t.same(got.map((m) => Buffer.from(m.body).toString()), ['kept'], 'data survives a clean restart');
    await again.close();
  });
}
