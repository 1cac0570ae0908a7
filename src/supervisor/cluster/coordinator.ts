/**
 * The node's link to etcd: membership (a lease per node), the supervisor election, and the
 * metadata cache. Everything here is etcd's own machinery — leases, transactions, watches; Ferry
 * writes no consensus of its own.
 *
 * - Membership: `/ferry/nodes/<id>` is put with the node's lease (TTL `leaseTtlS`); etcd deletes it
 *   when keepalives stop, and every node's watch sees the node die.
 * - Election: `/ferry/supervisor` is created with the candidate's lease only if absent (a
 *   transaction on create_revision = 0). Everyone watches it; when it vanishes, every live node
 *   campaigns again.
 * - Metadata: read once at start (with its revision) and then followed by a watch from the next
 *   revision, so the cache never misses an event. Requests read the cache only.
 * - Self-fencing: `leaseSafe` says whether this node's lease is certainly still alive (the last
 *   keepalive that succeeded was SENT less than a TTL ago). A leader stops acknowledging otherwise.
 */
import { Etcd3, type Lease, type Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { KEYS, parseNode, parseQueue, parseReach, type NodeInfo, type QueueMeta } from './meta.js';

export interface CoordinatorHooks {
  nodesChanged(): void;
  queueChanged(name: string, meta: QueueMeta | undefined, previous: QueueMeta | undefined): void;
  supervisorChanged(nodeId: string | undefined): void;
  /** The lease is gone (etcd said so): this node is dead to the cluster. */
  membershipLost(err: Error): void;
  /** A node's reachability report appeared, changed or vanished (reachability.ts). */
  reachChanged(): void;
  /** Whether this node may stand for supervisor now (not while it is cut off from its peers). */
  mayCampaign(): boolean;
}

export class CoordinationError extends Error {
  override readonly name = 'CoordinationError';
  readonly code = 'ClusterCoordinationFailed';
}

export class Coordinator {
  readonly self: NodeInfo;
  readonly nodes = new Map<string, NodeInfo>();
  readonly queues = new Map<string, QueueMeta>();
  /** Every node's reachability report (node id → peers it cannot reach). */
  readonly reports = new Map<string, string[]>();
  /** Nodes being drained (KEYS.draining). */
  readonly draining = new Set<string>();
  readonly #revisions = new Map<string, string>();
  readonly #byId = new Map<string, QueueMeta>();
  #supervisor: string | undefined;
  readonly #client: Etcd3;
  readonly #lease: Lease;
  readonly #ttlMs: number;
  readonly #log: Logger;
  readonly #hooks: CoordinatorHooks;
  #watcher: Watcher | undefined;
  #keepaliveSentAt = 0;
  #safeUntil = 0;
  #closed = false;

  private constructor(client: Etcd3, lease: Lease, self: NodeInfo, ttlS: number, log: Logger, hooks: CoordinatorHooks) {
    this.#client = client;
    this.#lease = lease;
    this.self = self;
    this.#ttlMs = ttlS * 1000;
    this.#log = log;
    this.#hooks = hooks;
  }

  static async start(etcd: string[], self: NodeInfo, log: Logger, hooks: CoordinatorHooks, leaseTtlS = 3): Promise<Coordinator> {
    const client = new Etcd3({ hosts: etcd, dialTimeout: 3000 });
    const lease = client.lease(leaseTtlS, { autoKeepAlive: true });
    const c = new Coordinator(client, lease, self, leaseTtlS, log, hooks);
    try {
      await c.#start();
    } catch (err) {
      await c.close();
      throw new CoordinationError(`cannot join the cluster through etcd ${etcd.join(',')}: ${(err as Error).message}`, { cause: err });
    }
    return c;
  }

  async #start(): Promise<void> {
    const grantedAt = Date.now();
    await this.#lease.grant();
    this.#safeUntil = grantedAt + this.#ttlMs;
    this.#lease.on('keepaliveFired', () => (this.#keepaliveSentAt = Date.now()));
    this.#lease.on('keepaliveSucceeded', () => (this.#safeUntil = this.#keepaliveSentAt + this.#ttlMs));
    this.#lease.on('lost', (err) => {
      if (this.#closed) return;
      this.#safeUntil = 0;
      this.#hooks.membershipLost(err);
    });
    const existing = await this.#client.get(KEYS.nodes + this.self.id).string();
    if (existing !== null) {
      // A previous life of this node whose lease has not lapsed yet: wait it out, or two processes
      // would claim one id. (etcd deletes it within the TTL.)
      const until = Date.now() + this.#ttlMs * 3;
      while ((await this.#client.get(KEYS.nodes + this.self.id).string()) !== null) {
        if (Date.now() > until) throw new CoordinationError(`node id ${this.self.id} is already live in the cluster`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await this.#lease.put(KEYS.nodes + this.self.id).value(JSON.stringify(this.self));
    const snapshot = await this.#client.getAll().prefix(KEYS.root).exec();
    for (const kv of snapshot.kvs) this.#onPut(kv.key.toString(), kv.value.toString(), kv.mod_revision);
    const next = String(BigInt(snapshot.header.revision) + 1n);
    this.#watcher = await this.#client.watch().prefix(KEYS.root).withPreviousKV().startRevision(next).create();
    this.#watcher.on('put', (kv) => this.#onPut(kv.key.toString(), kv.value.toString(), kv.mod_revision));
    this.#watcher.on('delete', (kv) => this.#onDelete(kv.key.toString()));
    this.#watcher.on('error', (err) => this.#log.warn({ err }, 'etcd watch error (it reconnects)'));
    await this.campaign();
  }

  #onPut(key: string, value: string, revision: string): void {
    try {
      if (key.startsWith(KEYS.nodes)) {
        const node = parseNode(value);
        this.nodes.set(node.id, node);
        this.#hooks.nodesChanged();
      } else if (key === KEYS.supervisor) {
        this.#supervisor = value;
        this.#hooks.supervisorChanged(value);
      } else if (key.startsWith(KEYS.reach)) {
        this.reports.set(key.slice(KEYS.reach.length), parseReach(value));
        this.#hooks.reachChanged();
      } else if (key.startsWith(KEYS.draining)) {
        this.draining.add(key.slice(KEYS.draining.length));
      } else if (key.startsWith(KEYS.queues)) {
        const meta = parseQueue(value);
        const previous = this.queues.get(meta.name);
        if (previous !== undefined && previous.id !== meta.id) this.#byId.delete(previous.id);
        this.queues.set(meta.name, meta);
        this.#byId.set(meta.id, meta);
        this.#revisions.set(meta.name, revision);
        this.#hooks.queueChanged(meta.name, meta, previous);
      }
    } catch (err) {
      this.#log.error({ err, key }, 'ignoring malformed cluster metadata');
    }
  }

  #onDelete(key: string): void {
    if (key.startsWith(KEYS.nodes)) {
      this.nodes.delete(key.slice(KEYS.nodes.length));
      this.#hooks.nodesChanged();
    } else if (key === KEYS.supervisor) {
      this.#supervisor = undefined;
      this.#hooks.supervisorChanged(undefined);
      void this.campaign();
    } else if (key.startsWith(KEYS.reach)) {
      this.reports.delete(key.slice(KEYS.reach.length));
      this.#hooks.reachChanged();
    } else if (key.startsWith(KEYS.draining)) {
      this.draining.delete(key.slice(KEYS.draining.length));
    } else if (key.startsWith(KEYS.queues)) {
      const name = key.slice(KEYS.queues.length);
      const previous = this.queues.get(name);
      this.queues.delete(name);
      this.#revisions.delete(name);
      if (previous !== undefined) this.#byId.delete(previous.id);
      this.#hooks.queueChanged(name, undefined, previous);
    }
  }

  get supervisor(): string | undefined {
    return this.#supervisor;
  }

  get isSupervisor(): boolean {
    return this.#supervisor === this.self.id;
  }

  /** The lease's time to live: how long a silent node stays a member. */
  get leaseTtlMs(): number {
    return this.#ttlMs;
  }

  /** Whether this node's lease is certainly alive right now (see the top comment). */
  get leaseSafe(): boolean {
    return Date.now() < this.#safeUntil;
  }

  queueById(qid: string): QueueMeta | undefined {
    return this.#byId.get(qid);
  }

  /**
   * A queue this node's cache does not know (yet): one read of etcd, and when the record exists, a
   * short wait for the watch to bring it in. createQueue answers once the queue's leader serves it,
   * which can be before every other node's watch has the record; a request right behind the create
   * must not hear that the queue does not exist. Only a cache miss reads etcd: requests for known
   * queues never wait on it.
   */
  async awaitQueue(name: string, timeoutMs = 2000): Promise<QueueMeta | undefined> {
    const text = await this.#client.get(KEYS.queues + name).string();
    if (text === null) return undefined;
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline && !this.#closed;) {
      const cached = this.queues.get(name);
      if (cached !== undefined) return cached;
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.queues.get(name);
  }

  /** Tries to become the supervisor; the watch reports the outcome either way. */
  async campaign(): Promise<void> {
    if (this.#closed || !this.#hooks.mayCampaign()) return;
    try {
      const leaseId = await this.#lease.grant();
      await this.#client.if(KEYS.supervisor, 'Create', '==', 0)
        .then(this.#client.put(KEYS.supervisor).value(this.self.id).lease(leaseId))
        .commit();
    } catch (err) {
      if (!this.#closed) this.#log.warn({ err }, 'supervisor campaign failed; retrying');
      if (!this.#closed) setTimeout(() => void this.campaign(), 500).unref();
    }
  }

  /**
   * Gives up the supervisor role (a node cut off from its peers): deletes `/ferry/supervisor` if it
   * still names this node; every node's watch then campaigns again.
   */
  async resign(): Promise<void> {
    await this.#client.if(KEYS.supervisor, 'Value', '==', this.self.id).then(this.#client.delete().key(KEYS.supervisor)).commit();
  }

  /** Publishes this node's reachability report, bound to its lease. */
  async publishReach(unreachable: readonly string[]): Promise<void> {
    await this.#lease.put(KEYS.reach + this.self.id).value(JSON.stringify(unreachable));
  }

  /** Creates a queue's record if the name is free. Resolves false when it already exists. */
  async createQueue(meta: QueueMeta): Promise<boolean> {
    const key = KEYS.queues + meta.name;
    const res = await this.#client.if(key, 'Create', '==', 0).then(this.#client.put(key).value(JSON.stringify(meta))).commit();
    return res.succeeded;
  }

  /** Replaces a queue's record only if it did not change since this node's cache saw it. */
  async updateQueue(meta: QueueMeta): Promise<boolean> {
    const key = KEYS.queues + meta.name;
    const revision = this.#revisions.get(meta.name);
    if (revision === undefined) return false;
    const res = await this.#client.if(key, 'Mod', '==', revision).then(this.#client.put(key).value(JSON.stringify(meta))).commit();
    return res.succeeded;
  }

  /**
   * One transaction over several queue records (the partitions of one queue, layout.ts): creates
   * `creates` if their names are free and replaces `updates` if none changed since this node's
   * cache saw them. All or nothing; resolves false when a condition failed.
   */
  async commitRecords(creates: readonly QueueMeta[], updates: readonly QueueMeta[]): Promise<boolean> {
    const all = [...creates, ...updates];
    if (all.length === 0) return true;
    const conditions: Array<[string, 'Create' | 'Mod', string | number]> = [];
    for (const m of creates) conditions.push([KEYS.queues + m.name, 'Create', 0]);
    for (const m of updates) {
      const revision = this.#revisions.get(m.name);
      if (revision === undefined) return false;
      conditions.push([KEYS.queues + m.name, 'Mod', revision]);
    }
    const [first, ...rest] = conditions;
    let txn = this.#client.if(first![0], first![1], '==', first![2]);
    for (const [key, column, value] of rest) txn = txn.and(key, column, '==', value);
    const res = await txn.then(...all.map((m) => this.#client.put(KEYS.queues + m.name).value(JSON.stringify(m)))).commit();
    return res.succeeded;
  }

  /** Deletes a queue's record if it is still the incarnation `qid`. */
  async deleteQueue(name: string, qid: string): Promise<void> {
    const key = KEYS.queues + name;
    const revision = this.#revisions.get(name);
    if (revision === undefined || this.queues.get(name)?.id !== qid) return;
    await this.#client.if(key, 'Mod', '==', revision).then(this.#client.delete().key(key)).commit();
  }

  /** Marks a node as draining (idempotent). */
  async setDraining(node: string): Promise<void> {
    await this.#client.put(KEYS.draining + node).value(JSON.stringify({ since: Date.now() }));
  }

  /** Ends a node's drain mark. */
  async clearDraining(node: string): Promise<void> {
    await this.#client.delete().key(KEYS.draining + node);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#watcher?.cancel();
    } catch {
      // closing anyway
    }
    try {
      await this.#lease.revoke();
    } catch {
      // the lease lapses by itself
    }
    this.#client.close();
  }
}
