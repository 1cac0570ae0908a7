/**
 * The order in which the main thread serves several destinations at the end of an event-loop
 * iteration (the shards it posts to, the sessions it writes to): the ones with the least work
 * first. Posting a shard's batch or writing a session's frames wakes the thread or process at the
 * other end, and on a busy machine the woken one may preempt the main thread; serving a saturating
 * queue's 1,000-message batch before a light queue's single message made the light one wait for
 * the packing, the postMessage and that preemption (loadtest/analysis.md, sixth session,
 * "isolation"). The work is the same either way; only who waits for whom changes.
 *
 * Stable: destinations of equal weight keep their order (arrival order), so nothing reorders
 * answers within one destination, and one destination alone costs no sort.
 */
export function lightestFirst<T>(items: readonly T[], weight: (item: T) => number): readonly T[] {
  if (items.length < 2) return items;
  const weighed = items.map((item, i) => ({ item, w: weight(item), i }));
  weighed.sort((a, b) => a.w - b.w || a.i - b.i);
  return weighed.map((x) => x.item);
}
