/**
 * A binary min-heap of deadlines. The actor keeps one for leases and delays instead of one timer
 * per message, so millions of leased messages cost one array, and the host arms a single timer at
 * `peek()`. Entries are never removed from the middle: a stale entry (the message was deleted or
 * re-leased) is recognised and dropped when it reaches the top.
 */
import { BinaryHeap } from './heap.js';

export interface Deadline {
  at: number;
  seq: number;
}

export class DeadlineHeap extends BinaryHeap<Deadline> {
  constructor() {
    super((a, b) => a.at < b.at);
  }
}
