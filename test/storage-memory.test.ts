// ShardStore must not keep what it wrote: a committed batch (and every key and value staged in it)
// is released, so memory follows what the broker holds, not everything it ever stored.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ShardStore } from '../src/storage/shard-store.js';

// A full collection on demand, so that what is still referenced is all that is counted.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

t.test('committed batches are released: 64 MiB written, almost none of it still held', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-store-mem-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = await ShardStore.open(dir);
  t.teardown(() => store.close());
  const held = (): number => {
    gc();
    return process.memoryUsage().arrayBuffers;
  };
  const before = held();
  const MiB = 1024 * 1024;
  for (let i = 0; i < 64; i++) {
    store.putMessage('aaaaaaaaaaaaaaaa', i, { id: `m${i}`, sentAt: i, visibleAt: i, body: new Uint8Array(MiB).fill(i) });
    store.commit();
  }
  await new Promise((r) => setTimeout(r, 50)); // a closed batch detaches from the database on a later tick
  const grown = held() - before;
  t.ok(grown < 8 * MiB, `array buffers grew by ${(grown / MiB).toFixed(1)} MiB after writing 64 MiB`);
  t.equal(store.readMessages('aaaaaaaaaaaaaaaa', [63])[0]?.body[0], 63, 'the data is on disk');
});
