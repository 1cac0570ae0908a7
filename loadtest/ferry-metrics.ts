/**
 * Ferry's own view of a scenario, from its Prometheus endpoint (GET /metrics): the request-duration
 * histogram per op (decode → answer ready, fsync included) and the message counters, as the
 * difference between a scrape before and one after the measured phase.
 */
import { increases } from './increases.js';

export interface OpView {
  requests: number;
  meanMs: number;
  /** Upper edge (ms) of the histogram bucket that holds the median / the 99th percentile. */
  p50LeMs: number;
  p99LeMs: number;
}

export interface FerryView {
  ops: Record<string, OpView>;
  /** ferry_messages_total by event (sent, received, deleted, pushed), summed over queues. */
  messages: Record<string, number>;
}

interface Scrape {
  buckets: Map<string, Map<number, number>>;
  sums: Map<string, number>;
  counts: Map<string, number>;
  messages: Map<string, number>;
}

const SAMPLE = /^([a-z_]+)(?:\{([^}]*)\})?\s+(\S+)$/;

function labels(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined) return out;
  for (const m of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

export function parseMetrics(text: string): Scrape {
  const s: Scrape = { buckets: new Map(), sums: new Map(), counts: new Map(), messages: new Map() };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line.trim());
    if (m === null) continue;
    const [, name, labelText, valueText] = m;
    const value = Number(valueText);
    const l = labels(labelText);
    if (name === 'ferry_request_duration_seconds_bucket' && l.op !== undefined) {
      const le = l.le === '+Inf' ? Infinity : Number(l.le);
      let b = s.buckets.get(l.op);
      if (b === undefined) s.buckets.set(l.op, (b = new Map()));
      b.set(le, value);
    } else if (name === 'ferry_request_duration_seconds_sum' && l.op !== undefined) {
      s.sums.set(l.op, value);
    } else if (name === 'ferry_request_duration_seconds_count' && l.op !== undefined) {
      s.counts.set(l.op, value);
    } else if (name === 'ferry_messages_total' && l.event !== undefined) {
      s.messages.set(l.event, (s.messages.get(l.event) ?? 0) + value);
    }
  }
  return s;
}

export async function scrape(httpUrl: string): Promise<Scrape | undefined> {
  try {
    const res = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return undefined;
    return parseMetrics(await res.text());
  } catch {
    return undefined;
  }
}

function quantileLe(cumulative: Array<[number, number]>, total: number, q: number): number {
  const rank = q * total;
  for (const [le, n] of cumulative) if (n >= rank) return le === Infinity ? Infinity : le * 1000;
  return Infinity;
}

export function diffView(before: Scrape, after: Scrape): FerryView {
  const ops: Record<string, OpView> = {};
  for (const [op, count] of after.counts) {
    const requests = count - (before.counts.get(op) ?? 0);
    if (requests <= 0) continue;
    const sum = (after.sums.get(op) ?? 0) - (before.sums.get(op) ?? 0);
    const b0 = before.buckets.get(op) ?? new Map<number, number>();
    const cumulative = [...(after.buckets.get(op) ?? new Map<number, number>())]
      .map(([le, n]): [number, number] => [le, n - (b0.get(le) ?? 0)])
      .sort((a, b) => a[0] - b[0]);
    ops[op] = { requests, meanMs: (sum / requests) * 1000, p50LeMs: quantileLe(cumulative, requests, 0.5), p99LeMs: quantileLe(cumulative, requests, 0.99) };
  }
  return { ops, messages: increases(before.messages, after.messages) };
}
