// The compact backlog (seq, sentAt, size as differences from the entry before) and RelaxedOrder drawing group '' from it.
import t from 'tap';
import { Backlog, type BacklogEntry } from '../src/actors/backlog.js';
import { RelaxedOrder, type Backlogged } from '../src/actors/delivery-order.js';
import { State, type Msg } from '../src/actors/message.js';

/** The first entry, copied (peek's object changes with the backlog), and dropped. */
function shift(b: Backlog): BacklogEntry | undefined {
  const e = b.peek();
  if (e === undefined) return undefined;
  const copy = { seq: e.seq, sentAt: e.sentAt, size: e.size };
  b.drop();
  return copy;
}

function drain(b: Backlog): BacklogEntry[] {
  const out: BacklogEntry[] = [];
  for (let e = shift(b); e !== undefined; e = shift(b)) out.push(e);
  return out;
}

t.test('a FIFO across many chunks: what goes in comes out, in order, exactly', async (t) => {
  const b = new Backlog();
  const n = 50_000; // several chunks
  const t0 = 1_764_000_000_000;
  for (let i = 0; i < n; i++) b.push(3 * i + 7, t0 + i * 13, 1 + (i % 1000));
  t.equal(b.length, n);
  t.equal(b.peekSeq(), 7);
  t.equal(b.peekSentAt(), t0);
  const out = drain(b);
  t.equal(out.length, n);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const e = out[i]!;
    if (e.seq !== 3 * i + 7 || e.sentAt !== t0 + i * 13 || e.size !== 1 + (i % 1000)) bad++;
  }
  t.equal(bad, 0, 'every entry exact');
  t.equal(b.length, 0);
  t.equal(b.peekSeq(), undefined);
  t.equal(b.peekSentAt(), undefined);
  t.equal(shift(b), undefined);
});

t.test('interleaved push and shift, including draining the chunk that is still filling', async (t) => {
  const b = new Backlog();
  let next = 0;
  let expect = 0;
  let bad = 0;
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 97; i++) b.push(next, 1000 + next, 256), next++;
    for (let i = 0; i < (round % 3 === 0 ? 200 : 60); i++) {
      const e = shift(b);
      if (e === undefined) break;
      if (e.seq !== expect || e.sentAt !== 1000 + expect) bad++;
      expect++;
    }
    if (b.length !== next - expect) bad++;
  }
  for (const e of drain(b)) if (e.seq !== expect++) bad++;
  t.equal(bad, 0);
  t.equal(expect, next);
});

t.test('big jumps in sequence and send time (clock set back, gaps) start new chunks and stay exact', async (t) => {
  const b = new Backlog();
  const entries: BacklogEntry[] = [
    { seq: 0, sentAt: 5_000_000_000_000, size: 1 },
    { seq: 1, sentAt: 4_000_000_000_000, size: 2 }, // clock back by years
    { seq: 2 ** 33, sentAt: 4_000_000_000_001, size: 3 }, // sequence gap past 32 bits
    { seq: 2 ** 33 + 1, sentAt: 4_000_000_000_001 + 2 ** 31 + 5, size: 4 }, // past the Int32 offset
    { seq: 2 ** 40, sentAt: 0, size: 2 ** 20 },
  ];
  for (const e of entries) b.push(e.seq, e.sentAt, e.size);
  t.same(drain(b), entries);
});

t.test('refuses sequences out of order and sizes out of range; clear empties it', async (t) => {
  const b = new Backlog();
  b.push(10, 0, 5);
  t.throws(() => b.push(10, 0, 5), RangeError);
  t.throws(() => b.push(9, 0, 5), RangeError);
  t.throws(() => b.push(11, 0, -1), RangeError);
  t.throws(() => b.push(11, 0, 1.5), RangeError);
  t.equal(b.length, 1);
  b.clear();
  t.equal(b.length, 0);
  t.equal(b.peekSeq(), undefined);
  b.push(11, 0, 5); // sequences keep increasing after a clear (purge)
  t.same(shift(b), { seq: 11, sentAt: 0, size: 5 });
});

t.test('a burst of one size costs about a byte a message; a few messages cost a few bytes', async (t) => {
  const b = new Backlog();
  const n = 1_000_000;
  const t0 = 1_764_000_000_000;
  for (let i = 0; i < n; i++) b.push(i, t0 + Math.floor(i / 25), 256); // 25,000 messages a second
  t.ok(b.capacityBytes <= n * 1.1 + 64 * 1024, `${b.capacityBytes} bytes for ${n} entries`);
  for (let i = 0; i < n - 10; i++) shift(b);
  t.ok(b.capacityBytes <= 64 * 1024, `drained chunks are given back (${b.capacityBytes} bytes left)`);
  t.same(shift(b), { seq: n - 10, sentAt: t0 + Math.floor((n - 10) / 25), size: 256 });
  const small = new Backlog();
  for (let i = 0; i < 3; i++) small.push(i, t0, 100);
  t.equal(small.capacityBytes, 64, 'three entries: one small chunk');
});

t.test('mixed entries round-trip: size changes, gaps, time going back, long pauses, huge sizes', async (t) => {
  const b = new Backlog();
  const entries: BacklogEntry[] = [];
  let seq = 0;
  let sentAt = 1_764_000_000_000;
  let state = 12345;
  const rand = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 100_000; i++) {
    const r = rand();
    seq += r < 0.9 ? 1 : 1 + Math.floor(rand() * 1e6);
    sentAt += r < 0.5 ? 0 : r < 0.8 ? Math.floor(rand() * 200) : r < 0.95 ? -Math.floor(rand() * 1000) : Math.floor(rand() * 1e9);
    const size = r < 0.7 ? 256 : Math.floor(rand() * 2 ** 32);
    entries.push({ seq, sentAt, size });
    b.push(seq, sentAt, size);
  }
  t.same(drain(b), entries);
});

t.test('refuses send times it cannot hold exactly', async (t) => {
  const b = new Backlog();
  t.throws(() => b.push(1, 1.5, 5), RangeError);
  t.throws(() => b.push(1, 2 ** 52, 5), RangeError);
  t.throws(() => b.push(1.5, 0, 5), RangeError);
  t.equal(b.length, 0);
});

function msg(seq: number, group = ''): Msg {
  return {
    seq, id: `m${seq}`, sentAt: 0, size: 1, body: undefined, attributes: undefined, receiveCount: 0, firstReceivedAt: 0,
    state: State.Visible, until: 0, expiresAt: Infinity, group, extra: undefined, holder: undefined,
  };
}

/** A Backlogged over a real Backlog, promoting to plain Msg objects as the actor does. */
function source(seqs: number[]): Backlogged & { backlog: Backlog } {
  const backlog = new Backlog();
  for (const s of seqs) backlog.push(s, 0, 1);
  return { backlog, peekSeq: () => backlog.peekSeq(), promote: () => msg(shift(backlog)!.seq) };
}

function takeAll(o: RelaxedOrder): Msg[] {
  const out: Msg[] = [];
  for (let m = o.next(); m !== undefined; m = o.next()) out.push(m);
  return out;
}

t.test("RelaxedOrder: group '' delivers its objects and its backlog merged by sequence", async (t) => {
  const src = source([1, 2, 5, 8]);
  const o = new RelaxedOrder(src);
  o.backlogged();
  for (const s of [0, 3, 4, 9]) o.visible(msg(s), false);
  t.same(takeAll(o).map((m) => m.seq), [0, 1, 2, 3, 4, 5, 8, 9]);
  t.equal(o.groups, 0, 'nothing left');
  t.equal(src.backlog.length, 0);
});

t.test('RelaxedOrder: stale objects are skipped, and the backlog alone is enough to be in the ring', async (t) => {
  const src = source([10, 11]);
  const o = new RelaxedOrder(src);
  const gone = msg(1);
  o.visible(gone, false);
  gone.state = State.Gone;
  o.backlogged();
  o.backlogged(); // repeated: still one turn in the ring
  t.equal(o.groups, 1);
  t.same(takeAll(o).map((m) => m.seq), [10, 11]);
  src.backlog.push(12, 0, 1);
  o.backlogged();
  t.same(takeAll(o).map((m) => m.seq), [12]);
});

t.test("RelaxedOrder: fairness holds between the backlog's group and other groups", async (t) => {
  const src = source([0, 1, 2, 3, 4, 5]);
  const o = new RelaxedOrder(src);
  o.backlogged();
  o.visible(msg(100, 'a'), false);
  o.visible(msg(101, 'a'), false);
  t.same(takeAll(o).map((m) => `${m.group}${m.seq}`), ['0', 'a100', '1', 'a101', '2', '3', '4', '5'], 'round-robin, one message a turn');
  t.equal(src.backlog.length, 0);
});

t.test('RelaxedOrder without a backlog behaves as before', async (t) => {
  const o = new RelaxedOrder();
  o.backlogged(); // an empty group '' turn is harmless
  o.visible(msg(2), false);
  o.visible(msg(1), true);
  t.same(takeAll(o).map((m) => m.seq), [1, 2]);
});

t.test("RelaxedOrder: group '' leaves the ring and comes back, message after message", async (t) => {
  // At a low rate with nothing queued, the default group empties after nearly every message.
  const src = source([]);
  const o = new RelaxedOrder(src);
  const got: number[] = [];
  for (let i = 0; i < 2000; i++) {
    if (i % 2 === 0) o.visible(msg(i), false);
    else {
      src.backlog.push(i, 0, 1);
      o.backlogged();
    }
    if (o.groups !== 1) t.fail(`message ${i}: ${o.groups} groups in the ring, expected 1`);
    const m = o.next();
    if (m !== undefined) got.push(m.seq);
    if (o.groups !== 0) t.fail(`message ${i}: ${o.groups} groups left after its delivery`);
    if (o.next() !== undefined) t.fail(`message ${i}: a second delivery`);
  }
  t.same(got, Array.from({ length: 2000 }, (_, i) => i), 'each message once, in order');
});

t.test("RelaxedOrder: group '' rejoins at the back of the ring, behind the groups already there", async (t) => {
  const o = new RelaxedOrder(source([]));
  o.visible(msg(1, 'a'), false);
  o.visible(msg(2, 'a'), false);
  o.visible(msg(3), false);
  t.same([o.next()?.seq, o.next()?.seq], [1, 3], "a, then ''");
  t.equal(o.groups, 1, "'' left the ring, a is still in it");
  o.visible(msg(4), false);
  o.visible(msg(5), true); // released early: first in its group
  t.equal(o.groups, 2);
  t.same(takeAll(o).map((m) => `${m.group}${m.seq}`), ['a2', '5', '4']);
  t.equal(o.groups, 0);
});

t.test("RelaxedOrder: clear() empties group '' too, which works on afterwards", async (t) => {
  const src = source([10]);
  const o = new RelaxedOrder(src);
  o.backlogged();
  o.visible(msg(1), false);
  o.visible(msg(2, 'b'), false);
  o.clear();
  t.equal(o.groups, 0);
  src.backlog.drop();
  t.equal(o.next(), undefined, 'nothing left after clear');
  o.visible(msg(3), false);
  t.equal(o.groups, 1);
  t.same(takeAll(o).map((m) => m.seq), [3]);
});
