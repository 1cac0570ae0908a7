/**
 * Subscription ids as a client sees them in cluster mode. A client connection's subscriptions may
 * live on several nodes (each queue's leader runs its own); each node numbers them in its own
 * space, so the node the client is connected to hands out its own ids and translates both ways.
 */
export interface SubTarget {
  /** The node that runs the subscription (this node's id for local ones). */
  node: string;
  /** The subscription's id on that node (for its session there). */
  remote: number;
  /** The queue's name (its leader may change: the subscription then ends). */
  queue: string;
}

export class SubscriptionMap {
  readonly #bySession = new Map<number, { next: number; subs: Map<number, SubTarget> }>();
  readonly #reverse = new Map<string, { session: number; sub: number }>();

  static #key(node: string, session: number, remote: number): string {
    return `${node}\u0000${session}\u0000${remote}`;
  }

  /** Registers a subscription and returns the id the client sees. */
  add(session: number, target: SubTarget): number {
    let s = this.#bySession.get(session);
    if (s === undefined) this.#bySession.set(session, (s = { next: 0, subs: new Map() }));
    const sub = ++s.next;
    s.subs.set(sub, target);
    this.#reverse.set(SubscriptionMap.#key(target.node, session, target.remote), { session, sub });
    return sub;
  }

  get(session: number, sub: number): SubTarget | undefined {
    return this.#bySession.get(session)?.subs.get(sub);
  }

  /** The client's id for a subscription `remote` that `node` runs for `session`. */
  lookup(node: string, session: number, remote: number): number | undefined {
    return this.#reverse.get(SubscriptionMap.#key(node, session, remote))?.sub;
  }

  remove(session: number, sub: number): void {
    const s = this.#bySession.get(session);
    const target = s?.subs.get(sub);
    if (target === undefined) return;
    s!.subs.delete(sub);
    this.#reverse.delete(SubscriptionMap.#key(target.node, session, target.remote));
  }

  /** Nodes this session has subscriptions on. */
  nodesOf(session: number): Set<string> {
    return new Set([...(this.#bySession.get(session)?.subs.values() ?? [])].map((t) => t.node));
  }

  /** Every subscription that matches `pred`, as (session, client sub). */
  matching(pred: (t: SubTarget) => boolean): Array<{ session: number; sub: number }> {
    const out: Array<{ session: number; sub: number }> = [];
    for (const [session, s] of this.#bySession) for (const [sub, t] of s.subs) if (pred(t)) out.push({ session, sub });
    return out;
  }

  closeSession(session: number): void {
    const s = this.#bySession.get(session);
    if (s === undefined) return;
    for (const [, t] of s.subs) this.#reverse.delete(SubscriptionMap.#key(t.node, session, t.remote));
    this.#bySession.delete(session);
  }
}
