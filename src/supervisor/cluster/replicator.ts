/**
 * Leader side of replication, on the main thread: ships each led queue's log entries
 * (actors/replica-log.ts) to its followers over peer links, counts their acknowledgements, and
 * holds every reply about the queue until the entries it depends on are committed per the
 * queue's `acks` policy (meta.ts `requiredCopies`). Sends, deletes and lease changes are all held
 * alike, so an acknowledged send is on enough replicas and an acknowledged delete cannot come back
 * after a failover.
 *
 * Learners (docs/cluster.md "Moving queues") are followers that receive the log like any other but
 * do not count: neither for a reply's release nor for the `acks` policy's replica count. A queue
 * being moved to a new node has it as a learner until the handover makes it a replica.
 *
 * Per follower: `stream` (entries pipelined in order on the link), `down` (link lost; resumed from
 * its last acknowledged entry when the link is back), `snapshot` (its copy did not match: it gets
 * the queue's keys, then the entries after the snapshot's mark). A follower that answers `fenced`
 * holds a newer epoch: this node was deposed, and stops acknowledging at once.
 *
 * A reply is released only while this node's etcd lease is certainly alive (Coordinator.leaseSafe);
 * otherwise it waits and, after `holdTimeoutMs`, fails with the retryable NotEnoughReplicas.
 */
import type { Logger } from 'pino';
import { ErrorCodes, type WireError } from '../../protocol/errors.js';
import type { ApplyOutcome, LogEntry, ReplicaMark } from '../../actors/replica-log.js';
import type { PeerAnswer } from '../../transport/peer-frames.js';
import { requiredCopies, type AcksPolicy } from './meta.js';
import type { PeerCall } from './peer-messages.js';

/** What the replicator needs from the node around it. */
export interface ReplicatorPorts {
  /** Calls a follower's node; PeerUnavailable when there is no link. */
  call(node: string, m: PeerCall, done: (a: PeerAnswer) => void): void;
  /** A snapshot of a led queue from its shard. */
  snapshot(qid: string, done: (a: PeerAnswer) => void): void;
  /** Whether a node is a live member now. */
  isLive(node: string): boolean;
  /** Whether this node's lease is certainly alive. */
  leaseSafe(): boolean;
  /** A follower holds a newer epoch of this queue: this node must step down. */
  deposed(qid: string, epoch: number): void;
}

interface Follower {
  node: string;
  /** Counts for commits (a replica); false for a learner. */
  votes: boolean;
  mode: 'stream' | 'down' | 'snapshot';
  /** Highest entry sent in the current stream. */
  sent: number;
  /** Highest entry the follower confirmed. */
  acked: number;
  /** Entries sent and not answered yet. */
  inflight: number;
}

interface Held {
  seq: number;
  at: number;
  release(): void;
  fail(error: WireError): void;
}

/** Entries (and their bytes) kept for followers that lag; past this a lagging follower gets a snapshot instead. */
const MAX_RETAINED = 100_000;
const MAX_RETAINED_BYTES = 64 * 1024 * 1024;
/** Entries in flight to one follower at most (the rest wait in the retained log): bounded buffers. */
const WINDOW = 256;

function entryBytes(e: LogEntry): number {
  let n = 64;
  for (const op of e.ops) n += op.key.byteLength + (op.type === 'put' ? op.value.byteLength : 0);
  return n;
}

class Partition {
  readonly followers: Follower[];
  readonly log: LogEntry[] = [];
  logBytes = 0;
  head = 0;
  committed = 0;
  held: Held[] = [];

  constructor(readonly qid: string, readonly epoch: number, followers: string[], readonly replicas: number, readonly acks: AcksPolicy, start: ReplicaMark) {
    this.head = start.seq;
    this.committed = start.seq;
    this.followers = followers.map((node) => newFollower(node, true));
  }
}

function newFollower(node: string, votes: boolean): Follower {
  return { node, votes, mode: 'down', sent: 0, acked: 0, inflight: 0 };
}

/** How far a led queue's copies go (migration waits on it: handover.ts). */
export interface ReplicationProgress {
  /** The leader's last entry. */
  head: number;
  /** The last entry committed under the `acks` policy. */
  committed: number;
  /** The last entry each follower (learners too) confirmed. */
  acked: Map<string, number>;
}

export class Replicator {
  readonly #ports: ReplicatorPorts;
  readonly #log: Logger;
  readonly #parts = new Map<string, Partition>();
  readonly #holdTimeoutMs: number;
  readonly #timer: NodeJS.Timeout;

  constructor(ports: ReplicatorPorts, log: Logger, holdTimeoutMs = 5000) {
    this.#ports = ports;
    this.#log = log;
    this.#holdTimeoutMs = holdTimeoutMs;
    this.#timer = setInterval(() => this.#sweep(), 200);
    this.#timer.unref();
  }

  /**
   * This node leads `qid` in `epoch` with these followers; `start` is the mark before the epoch's
   * first entry. Followers are caught up from their own position (a mismatch → snapshot).
   */
  lead(qid: string, epoch: number, followers: string[], acks: AcksPolicy, start: ReplicaMark): void {
    this.drop(qid, { code: ErrorCodes.NotLeader, message: 'leadership changed; retry', retryable: true });
    const p = new Partition(qid, epoch, followers, followers.length + 1, acks, start);
    this.#parts.set(qid, p);
  }

  /**
   * The learners of a led queue (followers that do not count): new ones are caught up from
   * scratch (a snapshot, then the stream); learners not in the list stop receiving.
   */
  setLearners(qid: string, learners: readonly string[]): void {
    const p = this.#parts.get(qid);
    if (p === undefined) return;
    for (let i = p.followers.length - 1; i >= 0; i--) {
      const f = p.followers[i]!;
      if (!f.votes && !learners.includes(f.node)) p.followers.splice(i, 1);
    }
    for (const node of learners) {
      if (p.followers.some((f) => f.node === node)) continue;
      const f = newFollower(node, false);
      p.followers.push(f);
      if (this.#ports.isLive(node)) this.#resume(p, f);
    }
  }

  progress(qid: string): ReplicationProgress | undefined {
    const p = this.#parts.get(qid);
    if (p === undefined) return undefined;
    return { head: p.head, committed: p.committed, acked: new Map(p.followers.map((f) => [f.node, f.mode === 'stream' ? f.acked : 0])) };
  }

  /** Stops replicating `qid`; held replies fail with `error`. */
  drop(qid: string, error: WireError): void {
    const p = this.#parts.get(qid);
    if (p === undefined) return;
    this.#parts.delete(qid);
    const held = p.held;
    p.held = [];
    for (const h of held) h.fail(error);
  }

  /** Entries a shard committed (actors/replica-log.ts); shipped to every streaming follower. */
  entries(entries: LogEntry[]): void {
    for (const entry of entries) {
      const p = this.#parts.get(entry.qid);
      if (p === undefined || entry.epoch !== p.epoch) continue;
      p.log.push(entry);
      p.logBytes += entryBytes(entry);
      p.head = entry.seq;
      while (p.log.length > 1 && (p.log.length > MAX_RETAINED || p.logBytes > MAX_RETAINED_BYTES)) p.logBytes -= entryBytes(p.log.shift()!);
      for (const f of p.followers) {
        if (f.mode === 'down' && f.sent === 0) this.#resume(p, f);
        else if (f.mode === 'stream') this.#pump(p, f);
      }
      this.#advance(p);
    }
  }

  /**
   * Calls `release` once everything `qid`'s leader wrote so far is committed; `fail` if that does
   * not happen in time or leadership is lost. Queues this node does not lead release at once.
   */
  hold(qid: string, release: () => void, fail: (error: WireError) => void): void {
    const p = this.#parts.get(qid);
    if (p === undefined || (p.head <= p.committed && this.#ports.leaseSafe())) return release();
    p.held.push({ seq: p.head, at: Date.now(), release, fail });
  }

  /** A peer link came (back) up: resume every follower on that node. */
  linkUp(node: string): void {
    for (const p of this.#parts.values()) for (const f of p.followers) if (f.node === node && f.mode === 'down') this.#resume(p, f);
  }

  /** Sends a follower everything after what it acknowledged; its apply answers say if that fits. */
  #resume(p: Partition, f: Follower): void {
    const first = p.log[0];
    // A follower's position is only known once it answered; before that, probe from the oldest
    // retained entry (its answer is a resend-ack or a mismatch that brings a snapshot).
    const from = f.acked + 1;
    // A learner behind an idle queue has no entry to be probed with: it gets the snapshot at once.
    if (first === undefined && !f.votes && f.acked < p.head) return this.#snapshot(p, f);
    if (first === undefined) {
      f.mode = 'stream';
      f.sent = p.head;
      return;
    }
    if (from < first.seq && f.acked !== 0) return this.#snapshot(p, f);
    f.mode = 'stream';
    f.sent = Math.max(from, first.seq) - 1;
    this.#pump(p, f);
  }

  /** Ships the retained entries after `f.sent`, at most WINDOW unacknowledged; a trimmed gap → snapshot. */
  #pump(p: Partition, f: Follower): void {
    while (f.mode === 'stream' && f.inflight < WINDOW) {
      const first = p.log[0];
      if (first === undefined) return;
      const i = f.sent + 1 - first.seq;
      if (i < 0) return this.#snapshot(p, f);
      const entry = p.log[i];
      if (entry === undefined) return;
      this.#ship(p, f, entry);
    }
  }

  #ship(p: Partition, f: Follower, entry: LogEntry): void {
    f.sent = entry.seq;
    f.inflight++;
    this.#ports.call(f.node, { t: 'repl', entry }, (a) => {
      f.inflight--;
      if (this.#parts.get(p.qid) !== p) return;
      if ('error' in a) {
        if (f.mode === 'stream') {
          f.mode = 'down';
          f.sent = f.acked;
        }
        return;
      }
      const outcome = a.result as ApplyOutcome;
      if (outcome.ok) {
        f.acked = Math.max(f.acked, entry.seq);
        this.#advance(p);
        this.#pump(p, f);
      } else if (outcome.reason === 'fenced' && outcome.mark.epoch > p.epoch) {
        this.#log.warn({ qid: p.qid, epoch: p.epoch, follower: f.node, theirs: outcome.mark }, 'a follower holds a newer epoch: stepping down');
        this.#ports.deposed(p.qid, outcome.mark.epoch);
      } else if (f.mode === 'stream') {
        this.#snapshot(p, f);
      }
    });
  }

  #snapshot(p: Partition, f: Follower): void {
    f.mode = 'snapshot';
    this.#ports.snapshot(p.qid, (a) => {
      if (this.#parts.get(p.qid) !== p || f.mode !== 'snapshot') return;
      if ('error' in a) {
        f.mode = 'down';
        return;
      }
      const snap = a.result as { rows: Array<[Uint8Array, Uint8Array]>; mark: ReplicaMark };
      this.#log.info({ qid: p.qid, follower: f.node, mark: snap.mark, keys: snap.rows.length }, 'sending a snapshot to a follower');
      this.#ports.call(f.node, { t: 'install', qid: p.qid, rows: snap.rows, mark: snap.mark }, (b) => {
        if (this.#parts.get(p.qid) !== p || f.mode !== 'snapshot') return;
        if ('error' in b) {
          f.mode = 'down';
          return;
        }
        f.acked = snap.mark.seq;
        f.mode = 'stream';
        f.sent = snap.mark.seq;
        this.#advance(p);
        this.#pump(p, f);
      });
    });
  }

  /** Moves the commit point to what enough replicas hold; releases the replies it covers. */
  #advance(p: Partition): void {
    const voters = p.followers.filter((f) => f.votes);
    const live = 1 + voters.filter((f) => this.#ports.isLive(f.node)).length;
    const need = requiredCopies(p.acks, p.replicas, live);
    const positions = [p.head, ...voters.map((f) => (f.mode === 'stream' ? f.acked : Math.min(f.acked, p.committed)))].sort((a, b) => b - a);
    const committed = need <= positions.length ? positions[need - 1]! : p.committed;
    if (committed > p.committed) p.committed = committed;
    const minAcked = Math.min(...p.followers.map((f) => f.acked));
    let drop = 0;
    while (drop < p.log.length && p.log[drop]!.seq <= minAcked) drop++;
    if (drop > 0) for (const e of p.log.splice(0, drop)) p.logBytes -= entryBytes(e);
    if (!this.#ports.leaseSafe()) return;
    let n = 0;
    while (n < p.held.length && p.held[n]!.seq <= p.committed) n++;
    if (n === 0) return;
    const released = p.held.splice(0, n);
    for (const h of released) h.release();
  }

  #sweep(): void {
    const now = Date.now();
    for (const p of this.#parts.values()) {
      this.#advance(p);
      for (const f of p.followers) if (f.mode === 'down' && this.#ports.isLive(f.node)) this.#resume(p, f);
      if (p.held.length === 0 || now - p.held[0]!.at < this.#holdTimeoutMs) continue;
      const expired = p.held.filter((h) => now - h.at >= this.#holdTimeoutMs);
      p.held = p.held.filter((h) => now - h.at < this.#holdTimeoutMs);
      const error: WireError = {
        code: ErrorCodes.NotEnoughReplicas, retryable: true,
        message: `too few replicas acknowledged within ${this.#holdTimeoutMs} ms (acks ${p.acks}); the write may or may not survive a failover`,
      };
      for (const h of expired) h.fail(error);
    }
  }

  close(): void {
    clearInterval(this.#timer);
    for (const qid of [...this.#parts.keys()]) this.drop(qid, { code: ErrorCodes.ShuttingDown, message: 'node shutting down', retryable: true });
  }
}
