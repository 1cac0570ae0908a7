/**
 * Entry point of a shard worker thread: owns one RocksDB directory (ShardStore) and the ShardHost
 * over it, and drives turns from the main thread's messages and from one timer. No socket here:
 * the main thread owns every socket, this thread owns every byte on disk.
 *
 * Turns pipeline with fsync: a turn writes its batch without a sync and asks the shard's syncer
 * thread (storage/wal-syncer.ts) to make it durable; the next turns run meanwhile, staging into
 * one open batch that is written by the turn that the sync's report schedules (see
 * ShardStore.commit). The host holds each turn's answers until the syncer reports its write
 * durable; a later turn posts them, in turn order (a report with nothing else to do runs an empty
 * turn for it).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ShardStore } from '../storage/shard-store.js';
import { WalSyncer } from '../storage/wal-syncer.js';
import { ShardHost, movableBuffers } from './shard-host.js';
import type { FromShard, ShardWorkerData, ToShard } from './shard-messages.js';
import { TraceEvent, TraceGroup, traceMarkHeld, tracing } from '../common/trace.js';
import { nameThisThread, shardThreadName, syncerThreadName } from '../common/thread-cpu.js';

const port = parentPort;
if (port === null) throw new Error('shard-worker.js must run in a worker thread');
const data = workerData as ShardWorkerData;
nameThisThread(shardThreadName(data.shard)); // for top -H, and the broker's CPU by thread (metrics.ts)

const store = await ShardStore.open(data.dir);
const host = new ShardHost(store, data.bodyCacheBytes, data.replicated === true, { deferSync: true });
const queues = await host.recover(Date.now());

let turnScheduled = false;
let timer: NodeJS.Timeout | undefined;
let timerAt = Infinity;
let closing = false;

function post(items: FromShard[]): void {
  if (items.length > 0) port!.postMessage(items, movableBuffers(items));
}

/**
 * A write failed or could not be synced: memory is ahead of disk. Die; the supervisor restarts
 * this shard from what is on disk, and fails the requests that were in flight here as retryable.
 * (The exit handler stops the syncer first, so it never touches the database as it closes.)
 */
function die(msg: string, err: unknown): never {
  console.error(JSON.stringify({ level: 'fatal', shard: data.shard, msg, err: String(err) }));
  process.exit(70);
}

const syncer = await WalSyncer.start(store.handle, syncerThreadName(data.shard), {
  durable: (through) => {
    if (closing) return; // close() syncs the rest itself
    store.markDurable(through);
    // A turn writes what turns staged during that sync and posts the answers it released, together
    // with whatever else this event-loop iteration brings (requests from the main thread arrive in
    // the same poll phase): one RocksDB write and one postMessage instead of two of each when both
    // come in one iteration.
    scheduleTurn();
  },
  failed: (err) => die('WAL sync failed', err),
});
process.on('exit', () => syncer.stopNow());

function requestSync(): void {
  const through = store.syncRequest();
  if (through !== undefined) syncer.request(through);
}

function endTurn(): void {
  turnScheduled = false;
  // close() ran the last turn itself. A turn scheduled before the close message arrived must not
  // run after it: it would arm a lease timer that keeps this thread alive once the port is closed
  // (shutdown then waited for the supervisor's force-terminate; test/shutdown.test.ts).
  if (closing) return;
  if (tracing) traceMarkHeld(TraceGroup.turn, TraceEvent.T, TraceGroup.posted);
  try {
    // A push that need not wait for the disk leaves before the batch is written: the main thread
    // sends it on while this thread writes (docs/protocol.md, "Delivery guarantees").
    postTraced(host.endTurn(Date.now(), postTraced));
  } catch (err) {
    die('commit failed', err);
  }
  requestSync();
  if (host.forwardsWaiting) scheduleTurn();
  armTimer();
}

/**
 * Posts a turn's items and marks the traced ones posted: its early items before its batch is
 * written (ShardHost.endTurn's beforeWrite), the rest after.
 */
function postTraced(items: FromShard[]): void {
  post(items);
  if (tracing) traceMarkHeld(TraceGroup.posted, TraceEvent.P);
}

function scheduleTurn(): void {
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(endTurn);
  }
}

function armTimer(): void {
  const at = host.nextDeadline();
  if (at === undefined || at >= timerAt) return;
  if (timer !== undefined) clearTimeout(timer);
  timerAt = at;
  timer = setTimeout(onTimer, Math.max(0, at - Date.now()));
}

function onTimer(): void {
  timer = undefined;
  timerAt = Infinity;
  host.tick(Date.now());
  scheduleTurn();
}

async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  if (timer !== undefined) clearTimeout(timer);
  host.answerWaiters();
  try {
    post(host.endTurn(Date.now()));
    // The syncer stops first (it shares the database); one synced write here covers every write
    // still waiting for it, and the answers they hold go out before the store closes.
    await syncer.close();
    store.commit();
  } catch (err) {
    die('commit failed', err);
  }
  post(host.released());
  await store.close();
  port!.postMessage([{ t: 'closed' }] satisfies FromShard[]);
  port!.close();
}

port.on('message', (batch: ToShard[]) => {
  if (closing) return;
  const now = Date.now();
  for (const m of batch) {
    if (m.t === 'crash') process.exit(70);
    if (m.t === 'close') {
      void close();
      return;
    }
    host.accept(m, now);
  }
  scheduleTurn();
});

post([{ t: 'ready', queues }]);
scheduleTurn();
