/**
 * What each of a set of counters gained between two readings, for a measured phase: a counter that
 * did not gain is left out, and so is one that went down (it was reset meanwhile: a restarted
 * shard's thread, a restarted broker's counters).
 */
export function increases(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of after) {
    const d = n - (before.get(key) ?? 0);
    if (d > 0) out[key] = d;
  }
  return out;
}
