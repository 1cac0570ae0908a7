/**
 * The clock latency stamps are taken on: CLOCK_MONOTONIC through process.hrtime, one clock for
 * every thread and process of the machine. performance.now() is not: a worker thread's
 * performance.now() counts from that worker's own start (its timeOrigin), so a stamp made in the
 * producer's thread and read in the consumer's thread would be off by the time between the two
 * threads' starts. Monotonic, so a wall-clock step cannot make a latency negative.
 */

/** Now, in nanoseconds (since boot). */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** Nanoseconds as milliseconds: non-decreasing in `ns`, and exact to well under a nanosecond (ms since boot fit a float64's 53 bits). */
export function msOfNs(ns: bigint): number {
  return Number(ns) / 1e6;
}

/** Now, in milliseconds on the same clock: what a message's send stamp holds. */
export function stampNow(): number {
  return msOfNs(nowNs());
}
