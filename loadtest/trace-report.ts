/**
 * Reads the broker's send trace (src/common/trace.ts: run the broker, or the bench, with
 * FERRY_TRACE_DIR=DIR) and prints where single-message sends spent their time, hop by hop.
 *
 *   node dist/loadtest/trace-report.js DIR [--split] [--slow]
 *
 * The key of a traced message is its send stamp (the load generator's clock), so the first hop is
 * "stamped in the load generator → dispatched on the broker's main thread". --split cuts the
 * messages in two at the largest gap between consecutive stamps (the isolation scenario's light
 * queue alone, then beside the saturated one) and reports each part. --slow lists each message at
 * or over p99 with its hops and the busy spans over 3 ms that overlap it (start from its stamp + length).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const EVENTS = ['S', 'M', 'F', 'A', 'T', 'P', 'B', 'L', 'R'] as const;
const HOPS: Array<[string, number, number]> = [
  ['load generator → main thread has its message (S→R)', 0, 8],
  ['main: message → dispatch (R→M)', 8, 1],
  ['main: dispatch → pool posts (M→F)', 1, 2],
  ['post → shard accepts (F→A)', 2, 3],
  ['shard: accept → turn ends (A→T)', 3, 4],
  ['shard: turn → push posted (T→P)', 4, 5],
  ['push posted → main receives (P→B)', 5, 6],
  ['main: push → socket write (B→L)', 6, 7],
  ['total S→L', 0, 7],
];

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const dir = process.argv[2];
if (dir === undefined) {
  console.error('usage: trace-report DIR [--split]');
  process.exit(2);
}
const split = process.argv.includes('--split');
const slow = process.argv.includes('--slow');
/** key → time of each event (index as in EVENTS); the first record of an event wins. */
const byKey = new Map<number, number[]>();
/** Busy spans by kind (the main thread's, and collections of the main thread and of the shards) (src/common/trace.ts TraceSpan): [start, end] pairs, in time order. */
const SPAN_KINDS = ['', 'big client messages', 'shard answers', 'pool flush', 'sessions flush', 'main collections', 'shard collections'];
const spans: Array<Array<[number, number]>> = SPAN_KINDS.map(() => []);
for (const f of readdirSync(dir).filter((f) => f.endsWith('.f64'))) {
  const b = readFileSync(join(dir, f));
  const a = new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
  for (let i = 0; i + 2 < a.length; i += 3) {
    const ev = a[i]!;
    const key = a[i + 1]!;
    if (ev === 9) {
      spans[key]!.push([a[i + 2]!, NaN]);
      continue;
    }
    if (ev === 10) {
      const open = spans[key]!;
      if (open.length > 0) open[open.length - 1]![1] = a[i + 2]!;
      continue;
    }
    let row = byKey.get(key);
    if (row === undefined) byKey.set(key, (row = [key, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN]));
    if (Number.isNaN(row[ev]!)) row[ev] = a[i + 2]!;
  }
}
for (const list of spans) list.sort((x, y) => x[0] - y[0]);
const rows = [...byKey.values()].filter((r) => r.every((t) => !Number.isNaN(t))).sort((x, y) => x[0]! - y[0]!);
console.log(`${byKey.size} keys traced, ${rows.length} with every event`);

/** Milliseconds of spans of `kind` inside [from, to] (spans are in time order). */
function busy(kind: number, from: number, to: number): number {
  const list = spans[kind]!;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]![1] < from) lo = mid + 1;
    else hi = mid;
  }
  let sum = 0;
  for (let i = lo; i < list.length && list[i]![0] < to; i++) sum += Math.max(0, Math.min(to, list[i]![1]) - Math.max(from, list[i]![0]));
  return sum;
}

/** For the main thread's hops: how much of each was spent in each kind of busy span (mean and p99 over the messages). */
function mainBusy(part: number[][]): void {
  const hops: Array<[string, number, number]> = [['S→R', 0, 8], ['M→F', 1, 2], ['P→B', 5, 6], ['B→L', 6, 7]];
  console.log('\nmain thread busy inside its hops, ms (mean / p99 over the messages; the rest of a hop is other work or waiting for a CPU)');
  console.log(`| hop | hop mean / p99 | ${SPAN_KINDS.slice(1).join(' | ')} |`);
  console.log(`|---|---|${SPAN_KINDS.slice(1).map(() => '---').join('|')}|`);
  for (const [name, from, to] of hops) {
    const d = part.map((r) => r[to]! - r[from]!).sort((x, y) => x - y);
    const cells = SPAN_KINDS.slice(1).map((_, k) => {
      const b = part.map((r) => busy(k + 1, r[from]!, r[to]!)).sort((x, y) => x - y);
      return `${(b.reduce((s2, x) => s2 + x, 0) / Math.max(1, b.length)).toFixed(2)} / ${pct(b, 99).toFixed(2)}`;
    });
    console.log(`| ${name} | ${(d.reduce((s2, x) => s2 + x, 0) / Math.max(1, d.length)).toFixed(2)} / ${pct(d, 99).toFixed(2)} | ${cells.join(' | ')} |`);
  }
}

function report(label: string, part: number[][]): void {
  console.log(`\n## ${label}: ${part.length} messages`);
  console.log('| hop | p50 ms | p90 | p99 | max | mean |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, from, to] of HOPS) {
    const d = part.map((r) => r[to]! - r[from]!).sort((x, y) => x - y);
    const mean = d.reduce((s, x) => s + x, 0) / Math.max(1, d.length);
    console.log(`| ${name} | ${pct(d, 50).toFixed(2)} | ${pct(d, 90).toFixed(2)} | ${pct(d, 99).toFixed(2)} | ${pct(d, 100).toFixed(2)} | ${mean.toFixed(2)} |`);
  }
  mainBusy(part);
  const from = part[0]![0]!;
  const to = part[part.length - 1]![7]!;
  console.log(`\nthe main thread's spans over the part's ${((to - from) / 1000).toFixed(1)} s: kind, count, share of the time, p50 / p99 / max ms`);
  for (let k = 1; k < SPAN_KINDS.length; k++) {
    const d = spans[k]!.filter(([a, b]) => a >= from && b <= to).map(([a, b]) => b - a).sort((x, y) => x - y);
    const sum = d.reduce((s2, x) => s2 + x, 0);
    console.log(`- ${SPAN_KINDS[k]}: ${d.length}, ${((100 * sum) / (to - from)).toFixed(1)}%, ${pct(d, 50).toFixed(2)} / ${pct(d, 99).toFixed(2)} / ${pct(d, 100).toFixed(2)}`);
  }
  const totals = part.map((r) => r[7]! - r[0]!).sort((x, y) => x - y);
  const p99 = pct(totals, 99);
  const p90 = pct(totals, 90);
  if (slow) {
    console.log(`\nmessages at or over p99 (s from the part's first stamp; hops ms; spans over 3 ms overlapping it, @start from its stamp +length):`);
    const t0 = part[0]![0]!;
    for (const r of part) {
      if (r[7]! - r[0]! < p99) continue;
      const hops = HOPS.slice(0, -1).map(([name, from, to]) => `${name.slice(name.lastIndexOf('(') + 1, -1)} ${(r[to]! - r[from]!).toFixed(1)}`).join(', ');
      const long: string[] = [];
      spans.forEach((list, k) => {
        for (const [a, b] of list) if (b > r[0]! && a < r[7]! && b - a > 3) long.push(`${SPAN_KINDS[k]} @${(a - r[0]!).toFixed(1)} +${(b - a).toFixed(1)}`);
      });
      console.log(`- ${((r[0]! - t0) / 1000).toFixed(2)} s, total ${(r[7]! - r[0]!).toFixed(1)}: ${hops}${long.length > 0 ? `; ${long.join('; ')}` : ''}`);
    }
  }
  for (const [cut, name] of [[p90, 'p90'], [p99, 'p99']] as const) {
    const worst = new Map<string, number>();
    let n = 0;
    for (const r of part) {
      if (r[7]! - r[0]! < cut) continue;
      n++;
      let best = '';
      let bestD = -1;
      for (const [hop, from, to] of HOPS.slice(0, -1)) {
        const d = r[to]! - r[from]!;
        if (d > bestD) [best, bestD] = [hop, d];
      }
      worst.set(best, (worst.get(best) ?? 0) + 1);
    }
    console.log(`\nlargest hop of the ${n} messages at or over ${name} (${cut.toFixed(2)} ms): ${[...worst].sort((x, y) => y[1] - x[1]).map(([h, c]) => `${h} ${c}`).join('; ')}`);
  }
}

if (split && rows.length > 2) {
  let cut = 1;
  for (let i = 1; i < rows.length; i++) if (rows[i]![0]! - rows[i - 1]![0]! > rows[cut]![0]! - rows[cut - 1]![0]!) cut = i;
  report('before the largest gap (alone)', rows.slice(0, cut));
  report('after it (beside)', rows.slice(cut));
} else {
  report('all', rows);
}
void EVENTS;
