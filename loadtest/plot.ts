/**
 * `npm run bench:plot [-- --in loadtest/results.json]`: draws throughput.svg (median msg/s per
 * scenario and broker, min–max whiskers) and latency.svg (p50 / p99 / p99.9 per broker, log scale)
 * next to the results file. Plain SVG text, no native dependency.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerLabel } from './floor-process.js';
import type { BenchResults } from './report.js';

/** Peers in colours; the floors (brokers.ts) in greys, lightest for the fewest hops, labelled "(floor)". */
const COLORS: Record<string, string> = {
  ferry: '#1f77b4', 'rabbitmq-classic': '#ff7f0e', 'rabbitmq-quorum': '#d62728', nats: '#2ca02c', redis: '#9467bd',
  'floor-2': '#d0d0d0', 'floor-4': '#a8a8a8', 'floor-4-sync': '#707070',
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function svg(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function legend(brokers: string[], x: number, y: number): string[] {
  return brokers.flatMap((b, i) => [
    `<rect x="${x}" y="${y + i * 18}" width="12" height="12" fill="${COLORS[b] ?? '#888'}"/>`,
    `<text x="${x + 18}" y="${y + i * 18 + 10}">${esc(brokerLabel(b))}</text>`,
  ]);
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function throughputSvg(r: BenchResults): string {
  const scenarios = r.scenarios.filter((s) => s.kind === 'throughput');
  const brokers = [...new Set(r.runs.map((x) => x.broker))];
  const groups = scenarios.map((s) => ({
    id: s.id,
    bars: brokers.map((b) => {
      const rates = r.runs.filter((x) => x.scenario === s.id && x.broker === b && x.status === 'ok').map((x) => x.measurement!.msgsPerSec);
      return { broker: b, rates };
    }),
  }));
  const max = niceMax(Math.max(1, ...groups.flatMap((g) => g.bars.flatMap((b) => b.rates))));
  const left = 70, top = 40, plotH = 320, barW = 16, gap = 28;
  const groupW = brokers.length * barW + gap;
  const width = left + groups.length * groupW + 190; // room for the legend, "floor-4-sync (floor)" included
  const height = top + plotH + 80;
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const body: string[] = [`<text x="${left}" y="22" font-size="15">Throughput, msg/s (median, min–max) — ${esc(r.date)}</text>`];
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    body.push(`<line x1="${left}" x2="${left + groups.length * groupW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    body.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v).toLocaleString('en-US')}</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + gap / 2;
    g.bars.forEach((b, bi) => {
      const x = x0 + bi * barW;
      if (b.rates.length === 0) {
        body.push(`<text x="${x + barW / 2}" y="${top + plotH - 4}" text-anchor="middle" font-size="9" fill="#999">–</text>`);
        return;
      }
      const m = median(b.rates);
      body.push(`<rect x="${x}" y="${y(m)}" width="${barW - 2}" height="${top + plotH - y(m)}" fill="${COLORS[b.broker] ?? '#888'}"><title>${esc(b.broker)} ${esc(g.id)}: ${Math.round(m)} msg/s</title></rect>`);
      if (b.rates.length > 1) {
        const cx = x + (barW - 2) / 2;
        body.push(`<line x1="${cx}" x2="${cx}" y1="${y(Math.min(...b.rates))}" y2="${y(Math.max(...b.rates))}" stroke="black"/>`);
      }
    });
    body.push(`<text x="${x0 + (brokers.length * barW) / 2}" y="${top + plotH + 16}" text-anchor="middle">${esc(g.id)}</text>`);
  });
  body.push(...legend(brokers, left + groups.length * groupW + 20, top));
  return svg(width, height, body);
}

export function latencySvg(r: BenchResults): string {
  const brokers = [...new Set(r.runs.map((x) => x.broker))];
  const keys = ['p50', 'p99', 'p999'] as const;
  const data = brokers.map((b) => {
    const runs = r.runs.filter((x) => x.scenario === 'latency' && x.broker === b && x.status === 'ok' && x.measurement?.latency);
    return { broker: b, values: keys.map((k) => (runs.length === 0 ? undefined : median(runs.map((x) => x.measurement!.latency![k])))) };
  });
  const all = data.flatMap((d) => d.values.filter((v): v is number => v !== undefined && v > 0));
  const lo = 0.1, hi = niceMax(Math.max(1, ...all));
  const left = 60, top = 40, plotH = 300, barW = 18, gap = 40;
  const groupW = brokers.length * barW + gap;
  const width = left + keys.length * groupW + 190;
  const height = top + plotH + 70;
  const y = (v: number): number => top + plotH - ((Math.log10(Math.max(lo, v)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
  const rate = r.sizes.latencyRate.toLocaleString('en-US');
  const body: string[] = [`<text x="${left}" y="22" font-size="15">End-to-end latency at ${rate} msg/s, ms (log scale) — ${esc(r.date)}</text>`];
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    body.push(`<line x1="${left}" x2="${left + keys.length * groupW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    body.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 1 ? v.toFixed(0) : v.toFixed(1)}</text>`);
  }
  keys.forEach((k, ki) => {
    const x0 = left + ki * groupW + gap / 2;
    data.forEach((d, bi) => {
      const v = d.values[ki];
      if (v === undefined) return;
      const x = x0 + bi * barW;
      body.push(`<rect x="${x}" y="${y(v)}" width="${barW - 2}" height="${top + plotH - y(v)}" fill="${COLORS[d.broker] ?? '#888'}"><title>${esc(d.broker)} ${k}: ${v.toFixed(2)} ms</title></rect>`);
    });
    body.push(`<text x="${x0 + (brokers.length * barW) / 2}" y="${top + plotH + 16}" text-anchor="middle">${k === 'p999' ? 'p99.9' : k}</text>`);
  });
  body.push(...legend(brokers, left + keys.length * groupW + 20, top));
  return svg(width, height, body);
}

function main(): void {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--in');
  const input = i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fileURLToPath(new URL('../../loadtest/results.json', import.meta.url));
  const results = JSON.parse(readFileSync(input, 'utf8')) as BenchResults;
  const dir = dirname(input);
  writeFileSync(join(dir, 'throughput.svg'), throughputSvg(results));
  writeFileSync(join(dir, 'latency.svg'), latencySvg(results));
  process.stderr.write(`wrote ${join(dir, 'throughput.svg')} and ${join(dir, 'latency.svg')}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
