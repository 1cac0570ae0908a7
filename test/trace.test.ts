// The optional send trace (src/common/trace.ts): with FERRY_TRACE_DIR set, the broker's threads
// record each single-message send's hops, keyed by the stamp in its body's first 8 bytes, and write
// them at exit; batches of more than one message are not traced.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from './helpers/broker.js';
import { connect } from '../src/client/index.js';
import { TraceEvent } from '../src/common/trace.js';

function stamped(stamp: number): Uint8Array {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setFloat64(0, stamp, true);
  return b;
}

t.test('every hop of a pushed one-message send is recorded in path order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-trace-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startBroker(t, { env: { FERRY_TRACE_DIR: dir } });
  const client = await connect(broker.url, { reconnect: false });
  await client.createQueue('traced');
  const q = client.queue('traced');
  let received = 0;
  const consumer = await q.consume(() => void received++, { prefetch: 10 });
  const keys = [1001.25, 1002.5, 1003.75];
  for (const k of keys) await q.sendBatch([stamped(k)]);
  await q.send(stamped(1004.5));
  await q.sendBatch([stamped(2001), stamped(2002)]);
  for (let i = 0; i < 200 && received < 6; i++) await new Promise((r) => setTimeout(r, 25));
  t.equal(received, 6, 'every message was pushed');
  await consumer.close();
  await client.close();
  t.same(await broker.stop('SIGTERM'), { code: 0, signal: null });

  const events = new Map<number, Map<number, number>>();
  const files = readdirSync(dir).filter((f) => f.startsWith('trace-') && f.endsWith('.f64'));
  t.ok(files.length >= 2, 'the main thread and the shard each wrote a file');
  for (const f of files) {
    const b = readFileSync(join(dir, f));
    const a = new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    for (let i = 0; i + 2 < a.length; i += 3) {
      if (a[i]! >= TraceEvent.spanStart) continue;
      let byEvent = events.get(a[i + 1]!);
      if (byEvent === undefined) events.set(a[i + 1]!, (byEvent = new Map()));
      if (!byEvent.has(a[i]!)) byEvent.set(a[i]!, a[i + 2]!);
    }
  }
  const { R, M, F, A, T, P, B, L } = TraceEvent;
  for (const k of [...keys, 1004.5]) {
    const e = events.get(k);
    t.ok(e !== undefined, `message ${k} traced`);
    if (e === undefined) continue;
    t.same([R, M, F, A, T, P, B, L].filter((ev) => !e.has(ev)), [], `message ${k}: every event`);
    const at = (ev: number): number => e.get(ev)!;
    // One clock for every thread; F and P are stamped after the post returns, so the other side's
    // A and B may come before them.
    t.ok(at(R) <= at(M) && at(M) <= at(F) && at(M) <= at(A) && at(A) <= at(T) && at(T) <= at(P) && at(T) <= at(B) && at(B) <= at(L), `message ${k}: hops in path order`, { times: [R, M, F, A, T, P, B, L].map(at) });
  }
  for (const k of [2001, 2002]) {
    const e = events.get(k);
    t.notOk(e?.has(R) === true || e?.has(M) === true || e?.has(A) === true, `a batch of two is not traced on its way in (${k})`);
  }
});
