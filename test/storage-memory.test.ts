// ShardStore must not keep what it wrote: a committed batch (and every key and value staged in it)
// is released, so memory follows what the broker holds, not everything it ever stored. Measured in
// a child process of its own (compiled dist/, as the shard workers run), with a full collection
// before each reading, so nothing of the test runner's own allocations is counted.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from './helpers/paths.js';

const STORE = repoPath('dist/src/storage/shard-store.js');

const SCRIPT = `
const { ShardStore } = await import(process.env.STORE);
const store = await ShardStore.open(process.env.DIR + '/db');
// ArrayBuffers are freed by a sweeper after the collection: read again until it settles.
const held = async () => {
  let least = Infinity;
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
    least = Math.min(least, process.memoryUsage().arrayBuffers);
  }
  return least;
};
const before = await held();
function write(i) {
  store.putMessage('aaaaaaaaaaaaaaaa', i, { id: 'm' + i, sentAt: i, visibleAt: i, body: new Uint8Array(1 << 20).fill(i) });
  store.commit();
}
for (let i = 0; i < 64; i++) write(i);
const grown = (await held()) - before;
const last = store.readMessages('aaaaaaaaaaaaaaaa', [63])[0]?.body[0];
await store.close();
console.log(JSON.stringify({ grown, last }));
`;

t.test('committed batches are released: 64 MiB written, almost none of it still held', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-store-mem-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A file, not `-e`: code evaluated from the command line kept the written buffers alive itself.
  const script = join(dir, 'writes.mjs');
  writeFileSync(script, SCRIPT);
  const r = spawnSync(process.execPath, ['--expose-gc', script], {
    // A clean environment: the test runner's NODE_OPTIONS (loaders, coverage) would run in the child too.
    env: { PATH: process.env.PATH, STORE, DIR: dir }, encoding: 'utf8', timeout: 60_000,
  });
  t.equal(r.status, 0, r.stderr);
  const { grown, last } = JSON.parse(r.stdout) as { grown: number; last: number };
  const MiB = 1024 * 1024;
  t.ok(grown < 8 * MiB, `array buffers grew by ${(grown / MiB).toFixed(1)} MiB after writing 64 MiB`);
  t.equal(last, 63, 'the data is on disk');
});
