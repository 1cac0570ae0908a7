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

/**
 * Lease ends of whole deliveries: one entry for all the messages one receive or push leased (they
 * share their lease end), instead of one entry per message. Stale sequences in it are skipped the
 * same way when the entry reaches the top.
 */
export interface LeaseGroup {
  at: number;
  seqs: number[];
}

export class LeaseGroupHeap extends BinaryHeap<LeaseGroup> {
  constructor() {
    super((a, b) => a.at < b.at);
  }
}
