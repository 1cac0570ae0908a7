/**
 * A log-linear latency histogram (HDR style): values in microseconds, 128 sub-buckets per power of
 * two, so a recorded value is off by less than 1/128 (0.8%) at any magnitude from 1 µs to 2^40 µs.
 * Fixed memory (41 × 128 counters), O(1) record, exact count/min/max/mean.
 */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
const MAGNITUDES = 41;

export interface Percentiles {
  count: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** A histogram's whole content, for sending it between threads (structured clone keeps it exact). */
export interface HistogramState {
  counts: Float64Array;
  count: number;
  /** Sum, min and max of the recorded values, µs. */
  sum: number;
  min: number;
  max: number;
}

export class LatencyHistogram {
  #counts = new Float64Array(MAGNITUDES * SUB);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = 0;

  /** Records one value in milliseconds (fractions allowed). Negative values count as 0. */
  recordMs(ms: number): void {
    const us = Math.max(0, ms * 1000);
    this.#counts[bucketOf(us)]!++;
    this.#count++;
    this.#sum += us;
    if (us < this.#min) this.#min = us;
    if (us > this.#max) this.#max = us;
  }

  get count(): number {
    return this.#count;
  }

  /** A copy of everything recorded (the counters are copied, not shared). */
  state(): HistogramState {
    return { counts: this.#counts.slice(), count: this.#count, sum: this.#sum, min: this.#min, max: this.#max };
  }

  /** The histogram a state() came from, with the same counters, count, sum, min and max. */
  static fromState(s: HistogramState): LatencyHistogram {
    if (s.counts.length !== MAGNITUDES * SUB) throw new RangeError(`histogram state has ${s.counts.length} counters, expected ${MAGNITUDES * SUB}`);
    const h = new LatencyHistogram();
    h.#counts = s.counts.slice();
    h.#count = s.count;
    h.#sum = s.sum;
    h.#min = s.min;
    h.#max = s.max;
    return h;
  }

  /** The value (ms) below which `q` (0..1) of the recorded values fall: the bucket's upper edge, capped at the max. */
  quantileMs(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(upperEdge(i), this.#max) / 1000;
    }
    return this.#max / 1000;
  }

  summary(): Percentiles {
    return {
      count: this.#count,
      p50: this.quantileMs(0.5),
      p99: this.quantileMs(0.99),
      p999: this.quantileMs(0.999),
      max: this.#max / 1000,
      mean: this.#count === 0 ? 0 : this.#sum / this.#count / 1000,
    };
  }
}

/** Bucket index of a value in µs. Below 2^7 µs each integer µs has its own bucket. */
export function bucketOf(us: number): number {
  const v = Math.floor(us);
  if (v < SUB) return v;
  const magnitude = Math.min(MAGNITUDES - 1, Math.floor(Math.log2(v)) - SUB_BITS + 1);
  const sub = Math.min(SUB - 1, Math.floor(v / 2 ** (magnitude - 1)) - SUB);
  return magnitude * SUB + sub;
}

/** Largest µs value that falls in bucket `i` (exclusive edge minus one µs). */
export function upperEdge(i: number): number {
  const magnitude = Math.floor(i / SUB);
  const sub = i % SUB;
  if (magnitude === 0) return sub;
  return (SUB + sub + 1) * 2 ** (magnitude - 1) - 1;
}
