/**
 * Reachability between nodes: finds a node that is still a member (its etcd lease is alive) but cut
 * off from the other nodes' peer links — the partition etcd's own membership cannot see.
 *
 * No consensus of our own: every node only *publishes what it observes* into etcd, and every node
 * applies the same rule to the same etcd data.
 *
 * - Observation: every `HEARTBEAT_MS` each node pings every other member over its peer link. A peer
 *   that has not answered a ping for longer than `suspectAfterMs` (the lease TTL by default: the
 *   same bound etcd gives a silent node) is unreachable from here. A peer only just seen as a
 *   member gets the same grace from the moment it appeared.
 * - Report: the node puts the list of peers it cannot reach under `/ferry/reach/<self>`, bound to
 *   its own lease (it vanishes with the node), whenever the list changes.
 * - Verdict (`cutOffNodes`, pure): a live node X is *cut off* when a majority of the live cluster
 *   (⌊N/2⌋+1 of the N live members, X not counted as its own witness) reports X unreachable. With
 *   three nodes: both others. A node that sees only one peer down is reported by one node only: no
 *   verdict, no action. Two nodes cannot tell which of them is cut off: never a verdict. An even
 *   split (2 | 2) gives no majority to either side: no verdict either.
 *
 * Consequences (cluster-node.ts, supervisor.ts): the supervisor treats a cut-off node as dead for
 * placement and fails its queues over; the cut-off node itself — it reads the same reports through
 * its own etcd watch — steps down from every queue, stops acknowledging, and gives up the
 * supervisor role if it held it. When the links heal, the reports clear and it rejoins as a
 * follower of whatever etcd now says.
 */

/** The verdict: the live nodes that a majority of the live cluster reports unreachable. */
export function cutOffNodes(live: ReadonlySet<string>, reports: ReadonlyMap<string, readonly string[]>): Set<string> {
  const witnesses = new Map<string, number>();
  for (const [reporter, unreachable] of reports) {
    if (!live.has(reporter)) continue;
    for (const node of new Set(unreachable)) {
      if (node === reporter || !live.has(node)) continue;
      witnesses.set(node, (witnesses.get(node) ?? 0) + 1);
    }
  }
  const majority = Math.floor(live.size / 2) + 1;
  const out = new Set<string>();
  for (const [node, count] of witnesses) if (count >= majority) out.add(node);
  return out;
}

export interface ReachabilityPorts {
  readonly self: string;
  /** The live members (etcd leases), this node included. */
  members(): ReadonlySet<string>;
  /** Every live node's published report (`/ferry/reach/<id>` → unreachable peers). */
  reports(): ReadonlyMap<string, readonly string[]>;
  /** Pings a peer over its link; `done(true)` on an answer, `done(false)` on an error or timeout. */
  ping(node: string, timeoutMs: number, done: (ok: boolean) => void): void;
  /** Writes this node's report to etcd (bound to its lease). */
  publish(unreachable: string[]): Promise<void>;
  /** The verdict changed (some node became, or stopped being, cut off). */
  changed(cutOff: ReadonlySet<string>): void;
  warn(obj: object, msg: string): void;
}

export const HEARTBEAT_MS = 500;

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

export class Reachability {
  readonly #ports: ReachabilityPorts;
  readonly #suspectAfterMs: number;
  /** Last time each peer answered a ping (or first appeared as a member). */
  readonly #lastOk = new Map<string, number>();
  #published: string | undefined;
  #publishing = false;
  #cutOff = new Set<string>();
  #lastBeat: number | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(ports: ReachabilityPorts, suspectAfterMs: number) {
    this.#ports = ports;
    this.#suspectAfterMs = suspectAfterMs;
    this.#timer = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Whether `node` is cut off from the cluster per the current verdict. */
  isCutOff(node: string): boolean {
    return this.#cutOff.has(node);
  }

  /** The current verdict. */
  get cutOff(): ReadonlySet<string> {
    return this.#cutOff;
  }

  /** The peers this node cannot reach right now (its report). */
  unreachable(now = Date.now()): string[] {
    const members = this.#ports.members();
    for (const node of this.#lastOk.keys()) if (!members.has(node)) this.#lastOk.delete(node);
    const out: string[] = [];
    for (const node of members) {
      if (node === this.#ports.self) continue;
      const ok = this.#lastOk.get(node);
      if (ok === undefined) this.#lastOk.set(node, now);
      else if (now - ok > this.#suspectAfterMs) out.push(node);
    }
    return out.sort();
  }

  /** Recomputes the verdict from etcd's reports (after a watch event or a membership change). */
  reportsChanged(): void {
    const next = cutOffNodes(this.#ports.members(), this.#ports.reports());
    if (sameSet(next, this.#cutOff)) return;
    this.#cutOff = next;
    this.#ports.changed(next);
  }

  /**
   * One heartbeat (the timer's; tests call it with their own clock): pings every peer, publishes
   * the report if it changed, recomputes the verdict. A beat that comes late — this node's own
   * event loop stalled, so its pings could not be answered in time — restarts every peer's grace
   * instead of blaming the peers for the pause.
   */
  beat(now = Date.now()): void {
    if (this.#lastBeat !== undefined && now - this.#lastBeat > 2 * HEARTBEAT_MS) {
      for (const node of this.#lastOk.keys()) this.#lastOk.set(node, now);
    }
    this.#lastBeat = now;
    for (const node of this.#ports.members()) {
      if (node === this.#ports.self) continue;
      this.#ports.ping(node, HEARTBEAT_MS * 2, (ok) => {
        if (ok) this.#lastOk.set(node, Date.now());
      });
    }
    this.#publish(this.unreachable(now));
    this.reportsChanged();
  }

  #publish(unreachable: string[]): void {
    const value = JSON.stringify(unreachable);
    if (value === this.#published || this.#publishing) return;
    this.#publishing = true;
    this.#ports.publish(unreachable).then(
      () => (this.#published = value),
      (err: unknown) => this.#ports.warn({ err }, 'cannot publish peer reachability to etcd; retrying'),
    ).finally(() => (this.#publishing = false));
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
