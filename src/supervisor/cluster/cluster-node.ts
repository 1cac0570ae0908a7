/**
 * One node of a Ferry cluster, on the main thread: ties etcd (coordinator.ts), the peer links
 * (transport/peer-*.ts), the leader-side replicator, the supervisor (when elected) and this node's
 * shard pool and router together. broker.ts builds it only with --cluster-etcd.
 *
 * - Front end: every client request is routed by the cached metadata. Queues this node leads go to
 *   the local router (their replies held by the replicator until committed); the others are
 *   forwarded to the leader's node over a peer link, and their answers (and subscription pushes)
 *   come back the same way. Requests that meet a leadership change (NotLeader, PeerUnavailable) are
 *   retried on the new leader for up to `RETRY_WINDOW_MS`, so clients do not see failovers.
 * - Leadership follows etcd: when the metadata names this node leader of a queue in a new epoch,
 *   the shard that holds the queue's replica runs its actor (`lead`); when it names another node,
 *   the actor stops (`follow`) and held replies fail with NotLeader.
 * - Follower: log entries and snapshots from a leader are applied to the local shard that holds
 *   the queue's replica (an entry from an epoch older than the one in etcd is refused).
 * - Moves (docs/cluster.md "Moving queues"): moveQueue/drainNode go to the supervisor
 *   (supervisor.ts, migration.ts); the leader hands a queue over (handover.ts); a node that is
 *   neither replica nor learner of a queue drops its copy.
 */
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { EncodedCbor, valueOf } from '../../protocol/encoded.js';
import { ErrorCodes, type WireError } from '../../protocol/errors.js';
import { Limits } from '../../protocol/limits.js';
import type { DeliveredMessage, QueueAttributes } from '../../protocol/ops.js';
import { InvalidRequest, validateRequest, type ValidRequest } from '../../protocol/validate.js';
import type { LogEntry, ReplicaMark } from '../../actors/replica-log.js';
import type { QueueInfo, QueueRequest } from '../../actors/shard-messages.js';
import type { PeerAnswer } from '../../transport/peer-frames.js';
import { PeerLink } from '../../transport/peer-link.js';
import { PeerServer, type PeerSocket } from '../../transport/peer-server.js';
import type { ClusterSettings } from '../config.js';
import { checkDeadLetter, type QueueCatalog } from '../dead-letter-check.js';
import type { Router, RouterOptions, SessionSink } from '../router.js';
import type { Answer, ShardPool, ShardPoolEvents } from '../shard-pool.js';
import { AttributeRecords } from './attribute-record.js';
import { ClusterMoves } from './cluster-moves.js';
import { Coordinator } from './coordinator.js';
import { SubscriptionMap } from './front-end.js';
import { handOver } from './handover.js';
import { DeletedQueues } from './deleted-queues.js';
import { LoadMeter, type QueueLoad } from './load-meter.js';
import { listEverywhere, noSuchTask, taskNode, taskPrefix } from './redrive-routing.js';
import { holders, metadataCatalog, type QueueMeta } from './meta.js';
import { parseCall, parseCast, type PeerCall } from './peer-messages.js';
import { Reachability } from './reachability.js';
import { Replicator } from './replicator.js';
import { ClusterSupervisor } from './supervisor.js';
import { isPartitionName } from './layout.js';
import { SendRateMeter } from './send-rate.js';
import { FRONT_END_SUB, PartitionedFrontEnd } from './partitions.js';
import { parsePartRequest, partRefusal, sentCount, type PartRequest } from './partition-ops.js';
import { Autoscaler, partitionedCreateRefusal, placePartitioned } from './autoscaler.js';

export interface ClusterStatus {
  node: string;
  supervisor: string | undefined;
  nodes: string[];
  leaseSafe: boolean;
  /** Peers this node cannot reach over peer links (its published report). */
  unreachable: string[];
  /** Nodes cut off from the cluster per everyone's reports (reachability.ts). */
  cutOff: string[];
  queues: Array<{
    name: string; id: string; leader: string; epoch: number; replicas: string[]; learners: string[]; acks: string;
    /** The attributes in the queue's etcd record, as this node's cache has them. */
    attributes: Partial<QueueAttributes>;
    role: 'leader' | 'follower' | 'learner' | 'none';
    mark: ReplicaMark | undefined;
    /** A partition of a partitioned queue (layout.ts); partition 0 also shows the layout. */
    part?: QueueMeta['part'];
    layout?: QueueMeta['layout'];
  }>;
}

/** Sessions of forwarded requests start here (client sessions count up from 1). */
const VSESSION_BASE = 1 << 30;
const RETRY_WINDOW_MS = 15_000;
/** How long late log entries for a deleted queue are refused (deleted-queues.ts). */
const DELETED_QUEUE_MEMORY_MS = 10 * 60_000;
const RETRY_STEP_MS = 100;

export interface ClusterNodeOptions {
  settings: ClusterSettings;
  maxBodyBytes: number;
  log: Logger;
  /** Client sessions of this node's server. */
  sessions: SessionSink;
  /** The cluster's unroutable queue (every node should name the same one). */
  unroutableQueue?: string | undefined;
}

interface Leading {
  epoch: number;
  shard: number;
  /** The shard confirmed `lead`: requests may go to the actor. */
  ready: boolean;
}

function notLeader(message: string): Answer {
  return { error: { code: ErrorCodes.NotLeader, message, retryable: true } };
}

function deletedQueue(qid: string): Answer {
  return { error: { code: ErrorCodes.QueueDoesNotExist, message: `queue ${qid} was deleted`, field: 'queue' } };
}

function notMember(meta: QueueMeta): Answer {
  return { error: { code: ErrorCodes.PeerUnavailable, message: `this node holds no copy of queue ${meta.name} in epoch ${meta.epoch}`, retryable: true } };
}

function retryableAnswer(a: Answer): boolean {
  return 'error' in a && (a.error.code === ErrorCodes.NotLeader || a.error.code === ErrorCodes.PeerUnavailable || a.error.code === ErrorCodes.ShardUnavailable);
}

export class ClusterNode {
  readonly peerServer: PeerServer;
  readonly #opts: ClusterNodeOptions;
  readonly #log: Logger;
  #router!: Router;
  #pool!: ShardPool;
  #coord: Coordinator | undefined;
  #replicator: Replicator;
  readonly #moves: ClusterMoves;
  #supervisor: ClusterSupervisor | undefined;
  #reach: Reachability | undefined;
  /** This node was cut off from its peers at the last verdict. */
  #wasCutOff = false;
  #autoscaler: Autoscaler | undefined;
  readonly #partitions = new PartitionedFrontEnd({
    record: (name) => this.#coord?.queues.get(name),
    recordById: (qid) => this.#coord?.queueById(qid),
    call: (session, part, gen, op, args, done) => this.#partCall(session, part, gen, op, args, done),
    push: (session, sub, messages) => this.#opts.sessions.push(session, sub, messages),
    subEnd: (session, sub, error) => {
      this.#subs.remove(session, sub);
      this.#opts.sessions.subEnd(session, sub, error);
    },
  });
  /** Sends per second into each partition this node leads (the autoscaler's rate limit). */
  readonly #sendRates = new SendRateMeter();
  readonly #links = new Map<string, PeerLink>();
  readonly #subs = new SubscriptionMap();
  /** Local shard of every queue this node holds a copy of (qid → shard). */
  readonly #placement = new Map<string, number>();
  readonly #leading = new Map<string, Leading>();
  readonly #attributeRecords: AttributeRecords;
  /** Queues deleted lately: entries and snapshots for them are refused. */
  readonly #discarded = new DeletedQueues(DELETED_QUEUE_MEMORY_MS);
  readonly #load = new LoadMeter();
  /** Forwarded sessions: local session number ↔ (peer socket, origin session). */
  readonly #vsessions = new Map<number, { socket: PeerSocket; origin: number }>();
  readonly #vsessionOf = new Map<PeerSocket, Map<number, number>>();
  #nextVsession = VSESSION_BASE;
  /** Remote nodes each client session sent requests to (they learn when it closes). */
  readonly #sessionNodes = new Map<number, Set<string>>();
  #closing = false;
  #localAddress: string | undefined;

  constructor(opts: ClusterNodeOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ node: opts.settings.nodeId });
    this.peerServer = new PeerServer({
      call: (from, m, done) => this.#onCall(from, m, done),
      cast: (from, m) => this.#onCast(from, m),
      closed: (from) => this.#onPeerClosed(from),
    });
    this.#attributeRecords = new AttributeRecords({
      self: opts.settings.nodeId,
      current: (name) => this.#coord?.queues.get(name),
      update: (meta) => this.#coord!.updateQueue(meta),
    });
    this.#replicator = new Replicator({
      call: (node, m, done) => this.#call(node, m, done),
      snapshot: (qid, done) => {
        const l = this.#leading.get(qid);
        if (l === undefined) return done(notLeader('not leading'));
        this.#pool.request(l.shard, (r) => ({ t: 'snapshot', r, qid }), done);
      },
      isLive: (node) => this.#coord?.nodes.has(node) === true && this.#reach?.isCutOff(node) !== true,
      leaseSafe: () => this.#mayAcknowledge(),
      deposed: (qid) => this.#stepDown(qid, 'a follower holds a newer epoch'),
    }, this.#log);
    this.#moves = new ClusterMoves({
      queue: (name) => this.#coord?.queues.get(name),
      queueById: (qid) => this.#coord?.queueById(qid),
      leads: (qid) => this.#leading.has(qid),
      serving: (qid) => this.#serving(qid),
      committed: (qid, release, fail) => this.#replicator.hold(qid, release, fail),
      call: (node, m, done, timeoutMs) => this.#call(node, m, done, timeoutMs),
      pool: () => this.#pool,
    });
  }

  /** Queues of the whole cluster, as the metadata has them (deadLetter checks, redrive targets). */
  readonly #catalog: QueueCatalog = metadataCatalog(() => this.#coord?.queues);

  /** What the router needs in cluster mode: moves through the cluster, its catalog, task ids. */
  get routerOptions(): NonNullable<RouterOptions['cluster']> {
    return { moves: () => this.#moves, catalog: this.#catalog, taskPrefix: taskPrefix(this.nodeId) };
  }

  get nodeId(): string {
    return this.#opts.settings.nodeId;
  }

  /** The sink the router pushes through: client sessions, or peers for forwarded sessions. */
  readonly routerSink: SessionSink = {
    push: (session, sub, messages) => this.#routerPush(session, sub, messages),
    subEnd: (session, sub, error) => this.#routerSubEnd(session, sub, error),
  };

  attach(router: Router, pool: ShardPool): void {
    this.#router = router;
    this.#pool = pool;
  }

  /** The pool's events: replication log and placement here, the rest to the router. */
  readonly poolEvents: ShardPoolEvents = {
    shardUp: (shard: number, queues: QueueInfo[]) => {
      for (const q of queues) this.#placement.set(q.id, shard);
      // A restarted shard lost its actors: lead again what this node leads there.
      // (Collected first: #reconcile adds to #leading, and a Map's iteration would visit those too.)
      const again = [...this.#leading].filter(([, l]) => l.shard === shard).map(([qid]) => qid);
      for (const qid of again) {
        this.#leading.delete(qid);
        const meta = this.#coord?.queueById(qid);
        if (meta !== undefined) this.#reconcile(meta);
      }
    },
    shardDown: (shard: number) => {
      for (const l of this.#leading.values()) if (l.shard === shard) l.ready = false;
      this.#router.shardDown(shard);
    },
    push: (session, sub, messages) => this.#router.push(session, sub, messages),
    subEnd: (session, sub, error) => this.#router.subEnd(session, sub, error),
    log: (_shard: number, entries: LogEntry[]) => this.#replicator.entries(entries),
    // Moves between queues: the router's forwarder, which goes through the cluster (cluster-moves.ts).
    forward: (shard, f, record) => this.#router.forward(shard, f, record),
    forwardDone: (shard, f, drained) => this.#router.forwardDone(shard, f, drained),
  };

  /** Joins the cluster once the server listens (the advertised URL needs the port). */
  async start(host: string, port: number): Promise<void> {
    // Peer links leave from the address this node listens on, so a node is one address on the
    // network (and a fault-injecting proxy in the tests can tell the nodes apart).
    if (isIP(host) !== 0 && host !== '0.0.0.0' && host !== '::') this.#localAddress = host;
    const url = this.#opts.settings.advertiseUrl ?? `ws://${host}:${port}`;
    this.#coord = await Coordinator.start(this.#opts.settings.etcd, { id: this.nodeId, url }, this.#log, {
      nodesChanged: () => this.#nodesChanged(),
      queueChanged: (_name, meta, previous) => this.#queueChanged(meta, previous),
      supervisorChanged: (id) => this.#log.info({ supervisor: id }, 'cluster supervisor'),
      reachChanged: () => this.#reach?.reportsChanged(),
      mayCampaign: () => !this.#isCutOff(),
      membershipLost: (err) => {
        // Our lease is gone: other nodes already treat us as dead and fail over our queues. A
        // process that keeps running here could only cause harm; exit and let it be restarted.
        this.#log.fatal({ err }, 'lost cluster membership (etcd lease expired); exiting');
        this.#log.flush?.();
        process.exit(75);
      },
    });
    const coord = this.#coord;
    this.#reach = new Reachability({
      self: this.nodeId,
      members: () => new Set(coord.nodes.keys()),
      reports: () => coord.reports,
      ping: (node, timeoutMs, done) => this.#call(node, { t: 'ping' }, (a) => done('result' in a), timeoutMs),
      publish: (unreachable) => coord.publishReach(unreachable),
      changed: (cutOff) => this.#reachabilityChanged(cutOff),
      warn: (obj, msg) => this.#log.warn(obj, msg),
    }, coord.leaseTtlMs);
    this.#supervisor = new ClusterSupervisor(this.#coord, {
      usable: (node) => this.#reach?.isCutOff(node) !== true,
      markOn: async (node, qid) => {
        const a = await new Promise<PeerAnswer>((resolve) => this.#call(node, { t: 'mark', qid }, resolve, 1000));
        return 'result' in a ? (a.result as { mark: ReplicaMark }).mark : undefined;
      },
      loadOn: async (node) => {
        const a = await new Promise<PeerAnswer>((resolve) => this.#call(node, { t: 'load' }, resolve, 1000));
        return 'result' in a ? (a.result as { queues: Record<string, QueueLoad> }).queues : undefined;
      },
      call: (node, m, timeoutMs) => new Promise<PeerAnswer>((resolve) => this.#call(node, m, resolve, timeoutMs)),
    }, this.#log, this.#opts.settings.rebalance);
    this.#autoscaler = new Autoscaler(this.#coord, this.#supervisor, {
      call: (part, gen, op, args, done) => this.#partCall(0, part, gen, op, args, done),
    }, this.#log);
    this.#nodesChanged();
    // Copies of queues deleted while this node was away: the metadata no longer names them.
    for (const qid of [...this.#placement.keys()]) if (this.#coord.queueById(qid) === undefined) this.#discard(qid);
    for (const meta of this.#coord.queues.values()) this.#reconcile(meta);
    this.#log.info({ url, nodes: [...this.#coord.nodes.keys()], supervisor: this.#coord.supervisor }, 'joined the cluster');
  }

  // ── membership and leadership ──────────────────────────────────────────────

  #nodesChanged(): void {
    const coord = this.#coord;
    if (coord === undefined) return;
    for (const [id, info] of coord.nodes) {
      if (id === this.nodeId) continue;
      const link = this.#links.get(id);
      if (link !== undefined) {
        link.setUrl(info.url);
        continue;
      }
      this.#links.set(id, new PeerLink({
        self: this.nodeId,
        url: info.url,
        ...(this.#localAddress === undefined ? {} : { localAddress: this.#localAddress }),
        onCast: (m) => this.#onLinkCast(id, m),
        onOpen: () => this.#replicator.linkUp(id),
        onClose: () => this.#linkDown(id),
      }));
    }
    for (const [id, link] of this.#links) {
      if (coord.nodes.has(id)) continue;
      link.close();
      this.#links.delete(id);
      this.#linkDown(id);
    }
    this.#reach?.reportsChanged();
    this.#supervisor?.check();
  }

  /** Subscriptions that ran on a node we lost contact with end (retryable: the client resubscribes). */
  #linkDown(node: string): void {
    const error: WireError = { code: ErrorCodes.PeerUnavailable, message: `lost the link to node ${node}; subscribe again`, retryable: true };
    for (const { session, sub } of this.#subs.matching((t) => t.node === node)) {
      this.#subs.remove(session, sub);
      this.#opts.sessions.subEnd(session, sub, error);
    }
  }

  #queueChanged(meta: QueueMeta | undefined, previous: QueueMeta | undefined): void {
    if (meta === undefined) {
      if (previous !== undefined) {
        this.#router.forget(previous.name, { code: ErrorCodes.QueueDoesNotExist, message: `queue ${previous.name} was deleted` });
        if (this.#leading.has(previous.id)) this.#moves.retire(previous.id);
        this.#leading.delete(previous.id);
        this.#sendRates.forget(previous.id);
        this.#replicator.drop(previous.id, { code: ErrorCodes.QueueDoesNotExist, message: `queue ${previous.name} was deleted` });
        this.#endRemoteSubs(previous.name);
        this.#discard(previous.id);
      }
      return;
    }
    if (previous !== undefined && previous.leader !== meta.leader) this.#endRemoteSubs(meta.name);
    this.#reconcile(meta);
  }

  /**
   * Every replica (followers included) forgets a deleted queue's copy: its keys go from the shard,
   * and late log entries or snapshots for it are refused from now on.
   */
  #discard(qid: string): void {
    this.#discarded.add(qid, Date.now());
    const shard = this.#placement.get(qid);
    if (shard === undefined) return this.#moves.drained(qid);
    this.#placement.delete(qid);
    this.#pool.request(shard, (r) => ({ t: 'discard', r, qid }), (a) => {
      if ('error' in a) this.#log.warn({ qid, error: a.error }, 'cannot discard the copy of a deleted queue (it stays as garbage until the next start)');
      // A retired queue with no outbox record left to move is done with at once; one with some
      // is done with when the shard reports the last one gone (forwardDone `drained`).
      else if ((a.result as { carrying?: boolean }).carrying !== true) this.#moves.drained(qid);
    });
  }

  #endRemoteSubs(queue: string): void {
    const error: WireError = { code: ErrorCodes.NotLeader, message: `queue ${queue} changed leader; subscribe again`, retryable: true };
    for (const { session, sub } of this.#subs.matching((t) => t.queue === queue && t.node !== this.nodeId && t.node !== FRONT_END_SUB)) {
      this.#subs.remove(session, sub);
      this.#opts.sessions.subEnd(session, sub, error);
    }
  }

  /** Whether this node may acknowledge anything: its lease is safe and it is not cut off from its peers. */
  #mayAcknowledge(): boolean {
    return this.#coord?.leaseSafe === true && !this.#isCutOff();
  }

  #isCutOff(): boolean {
    return this.#reach?.isCutOff(this.nodeId) === true;
  }

  /**
   * The reachability verdict changed (reachability.ts). Cut off: step down from every queue and give
   * up the supervisor role, so the majority side takes over. Reachable again: follow the metadata
   * (as a follower of whatever the supervisor decided meanwhile) and stand for supervisor again.
   */
  #reachabilityChanged(cutOff: ReadonlySet<string>): void {
    const coord = this.#coord;
    if (coord === undefined) return;
    const now = cutOff.has(this.nodeId);
    this.#log.warn({ cutOff: [...cutOff] }, 'peer reachability verdict changed');
    if (now && !this.#wasCutOff) {
      this.#wasCutOff = true;
      this.#log.warn('this node is cut off from its peers: stepping down from every queue');
      for (const qid of [...this.#leading.keys()]) this.#stepDown(qid, 'this node is cut off from its peers');
      if (coord.isSupervisor) {
        coord.resign().catch((err: unknown) => this.#log.warn({ err }, 'cannot resign as supervisor (the key goes with the lease at worst)'));
      }
    } else if (!now && this.#wasCutOff) {
      this.#wasCutOff = false;
      this.#log.warn('this node reaches its peers again: rejoining');
      for (const meta of coord.queues.values()) this.#reconcile(meta);
      if (coord.supervisor === undefined) void coord.campaign();
    }
    this.#supervisor?.check();
  }

  /** Makes this node's role for one queue match the metadata. */
  #reconcile(meta: QueueMeta): void {
    const leading = this.#leading.get(meta.id);
    if (meta.leader !== this.nodeId || this.#isCutOff()) {
      const why = meta.leader !== this.nodeId ? `node ${meta.leader} leads epoch ${meta.epoch}` : 'this node is cut off from its peers';
      if (leading !== undefined) this.#stepDown(meta.id, why);
      if (!holders(meta).includes(this.nodeId) && this.#placement.has(meta.id)) this.#dropMovedCopy(meta);
      return;
    }
    if (leading !== undefined && leading.epoch === meta.epoch) return this.#replicator.setLearners(meta.id, meta.learners ?? []);
    const shard = this.#shardFor(meta.id);
    const l: Leading = { epoch: meta.epoch, shard, ready: false };
    this.#leading.set(meta.id, l);
    const followers = meta.replicas.filter((r) => r !== this.nodeId);
    const hasCopy = this.#placement.has(meta.id);
    const started = (a: Answer): void => {
      if (this.#leading.get(meta.id) !== l) return;
      if ('error' in a) {
        this.#log.error({ queue: meta.name, error: a.error }, 'cannot take the lead of a queue');
        this.#leading.delete(meta.id);
        return;
      }
      l.ready = true;
      this.#placement.set(meta.id, shard);
      this.#router.place(meta.name, shard, meta.id);
      this.#log.info({ queue: meta.name, epoch: meta.epoch }, 'leading');
    };
    if (hasCopy) {
      // The start mark is only known from the shard's answer; entries of the new epoch arrive in
      // the same message batch before that answer, so the partition must exist first.
      this.#pool.request(shard, (r) => ({ t: 'mark', r, qid: meta.id }), (a) => {
        if (this.#leading.get(meta.id) !== l) return;
        if ('error' in a) return started(a);
        this.#replicator.lead(meta.id, meta.epoch, followers, meta.acks, (a.result as { mark: ReplicaMark }).mark);
        this.#replicator.setLearners(meta.id, meta.learners ?? []);
        this.#pool.request(shard, (r) => ({ t: 'lead', r, qid: meta.id, epoch: meta.epoch }), started);
      });
    } else if (meta.epoch === 1) {
      this.#replicator.lead(meta.id, meta.epoch, followers, meta.acks, { epoch: 0, seq: 0 });
      this.#pool.request(shard, (r) => ({
        t: 'create', r, id: meta.id, name: meta.name, attributes: meta.attributes, createdAt: meta.createdAt, epoch: meta.epoch,
      }), started);
    } else {
      this.#log.error({ queue: meta.name, epoch: meta.epoch }, 'named leader of a queue this node has no copy of');
      this.#leading.delete(meta.id);
    }
  }

  #stepDown(qid: string, why: string): void {
    const l = this.#leading.get(qid);
    if (l === undefined) return;
    this.#leading.delete(qid);
    const error: WireError = { code: ErrorCodes.NotLeader, message: `this node no longer leads the queue (${why}); retry`, retryable: true };
    this.#replicator.drop(qid, error);
    this.#router.stopCarrying(qid);
    const meta = this.#coord?.queueById(qid);
    if (meta !== undefined) this.#router.forget(meta.name, error);
    this.#pool.request(l.shard, (r) => ({ t: 'follow', r, qid }), () => undefined);
    this.#log.warn({ qid, why }, 'stepped down');
  }

  /** This node left the queue's replica set (it moved away): its copy goes. */
  #dropMovedCopy(meta: QueueMeta): void {
    const shard = this.#placement.get(meta.id)!;
    this.#placement.delete(meta.id);
    this.#pool.request(shard, (r) => ({ t: 'discard', r, qid: meta.id, moved: true }), (a) => {
      if ('error' in a) this.#log.warn({ queue: meta.name, error: a.error }, 'cannot drop the copy of a queue that moved away');
      else this.#log.info({ queue: meta.name, epoch: meta.epoch }, 'dropped the copy of a queue that moved away');
    });
  }

  /** Handover, step 1 (handover.ts): the actor stops; requests meet NotLeader until the switch. */
  #freeze(qid: string): Promise<void> {
    const l = this.#leading.get(qid);
    const meta = this.#coord?.queueById(qid);
    if (l === undefined || !l.ready || meta === undefined) return Promise.reject(new Error('not serving the queue'));
    l.ready = false;
    this.#router.forget(meta.name, { code: ErrorCodes.NotLeader, message: `queue ${meta.name} is moving; subscribe again`, retryable: true });
    return new Promise((resolve, reject) => this.#pool.request(l.shard, (r) => ({ t: 'follow', r, qid }), (a) => ('error' in a ? reject(new Error(a.error.message)) : resolve())));
  }

  /** The handover did not happen: lead again in the same epoch. */
  #resume(qid: string): void {
    this.#leading.delete(qid);
    const meta = this.#coord?.queueById(qid);
    if (meta !== undefined) this.#reconcile(meta);
  }

  #shardFor(qid: string): number {
    const known = this.#placement.get(qid);
    if (known !== undefined) return known;
    return Number.parseInt(qid.slice(0, 8), 16) % this.#pool.size;
  }

  // ── front end: client requests ─────────────────────────────────────────────

  /** A client request on this node (RequestHandler.dispatch). `done` exactly once. */
  dispatch(session: number, req: ValidRequest, done: (a: Answer) => void): void {
    const deadline = Date.now() + RETRY_WINDOW_MS;
    const attempt = (): void => {
      this.#route(session, req, (a) => {
        if (retryableAnswer(a) && Date.now() < deadline && !this.#closing) setTimeout(attempt, RETRY_STEP_MS);
        else done(a);
      });
    };
    attempt();
  }

  #route(session: number, req: ValidRequest, done: (a: Answer) => void): void {
    const coord = this.#coord;
    if (coord === undefined) return done(notLeader('this node is still joining the cluster'));
    switch (req.op) {
      case 'listRedrives':
        return listEverywhere([...coord.nodes.keys()], (node, answer) => {
          if (node === this.nodeId) this.#router.dispatch(session, req, answer);
          else this.#forward(node, session, req, answer);
        }, done);
      case 'cancelRedrive': {
        const node = taskNode(req.args.task);
        if (node === undefined || !coord.nodes.has(node)) return done(noSuchTask(req.args.task));
        if (node === this.nodeId) return this.#router.dispatch(session, req, done);
        return this.#forward(node, session, req, done);
      }
      case 'listQueues': {
        const { prefix = '', after, limit = 1000 } = req.args;
        const names = [...coord.queues.keys()].filter((n) => !isPartitionName(n) && n.startsWith(prefix) && (after === undefined || n > after)).sort();
        const page = names.slice(0, limit);
        return done({ result: names.length > limit ? { queues: page, next: page[page.length - 1]! } : { queues: page } });
      }
      case 'createQueue':
        return this.#create(req, done);
      case 'moveQueue':
      case 'drainNode': {
        const supervisor = coord.supervisor;
        if (supervisor === undefined) return done(notLeader('no cluster supervisor is elected right now'));
        if (supervisor !== this.nodeId) return this.#call(supervisor, { t: 'admin', req: { op: req.op, args: req.args } }, done, 60_000);
        return this.#admin(req, done);
      }
      case 'credit':
      case 'unsubscribe': {
        const target = this.#subs.get(session, req.args.sub);
        if (target === undefined) return done({ error: { code: ErrorCodes.UnknownSubscription, message: `no subscription ${req.args.sub} on this connection`, field: 'sub' } });
        if (req.op === 'unsubscribe') this.#subs.remove(session, req.args.sub);
        if (target.node === FRONT_END_SUB) {
          if (req.op === 'unsubscribe') this.#partitions.unsubscribe(session, req.args.sub);
          return done({ result: req.op === 'credit' ? this.#partitions.credit(session, req.args.sub, req.args.credit) : { unsubscribed: true } });
        }
        const forwarded = { ...req, args: { ...req.args, sub: target.remote } } as ValidRequest;
        if (target.node === this.nodeId) return this.#router.dispatch(session, forwarded, done);
        return this.#forward(target.node, session, forwarded, done);
      }
      default: {
        const meta = coord.queues.get(req.args.queue);
        if (meta === undefined) {
          const missing = (): void => {
            if (req.op === 'send') return this.#moves.keepUnroutable(this.#opts.unroutableQueue, req.args.queue, [req.args], done);
            if (req.op === 'sendBatch') return this.#moves.keepUnroutable(this.#opts.unroutableQueue, req.args.queue, req.args.entries, done);
            done({ error: { code: ErrorCodes.QueueDoesNotExist, message: `queue ${req.args.queue} does not exist`, field: 'queue' } });
          };
          // Perhaps created a moment ago through another node (coordinator.ts awaitQueue).
          coord.awaitQueue(req.args.queue).then((found) => (found === undefined ? missing() : this.#route(session, req, done)), missing);
          return;
        }
        // A partitioned queue (partitions.ts); its subscriptions are run by this front end.
        if (meta.layout !== undefined && req.op === 'subscribe') {
          if (req.args.group !== undefined) return done({ error: { code: ErrorCodes.InvalidField, message: `queue ${meta.name} is in queue mode; consumer groups belong to stream-mode queues`, field: 'group' } });
          const sub = this.#subs.add(session, { node: FRONT_END_SUB, remote: 0, queue: meta.name });
          done({ result: { sub } });
          return this.#partitions.subscribe(session, sub, meta, req.args);
        }
        if (meta.layout !== undefined) return this.#partitions.handle(session, req, meta, done);
        const finish = req.op === 'subscribe'
          ? (node: string) => (a: Answer) => {
            if ('error' in a) return done(a);
            const remote = (a.result as { sub: number }).sub;
            done({ result: { sub: this.#subs.add(session, { node, remote, queue: meta.name }) } });
          }
          : () => done;
        if (meta.leader === this.nodeId) return this.#local(session, req, meta, finish(this.nodeId));
        return this.#forward(meta.leader, session, req, finish(meta.leader));
      }
    }
  }

  /** The local shard of a queue this node leads and serves now, or NotLeader. */
  #serving(qid: string, name = this.#coord?.queueById(qid)?.name ?? qid): { shard: number } | { error: WireError } {
    const l = this.#leading.get(qid);
    if (l === undefined || !l.ready) return { error: { code: ErrorCodes.NotLeader, message: `node ${this.nodeId} is not (yet) serving queue ${name}`, retryable: true } };
    if (!this.#mayAcknowledge()) return { error: { code: ErrorCodes.NotLeader, message: 'this node cannot confirm its cluster membership or is cut off from its peers', retryable: true } };
    return { shard: l.shard };
  }

  /** A request for a queue this node leads, from a local client or a forwarding node (`internal`: an internal request of a partition). */
  #local(session: number, req: ValidRequest, meta: QueueMeta, done: (a: Answer) => void, internal?: QueueRequest): void {
    const serving = this.#serving(meta.id, meta.name);
    if ('error' in serving) return done(serving);
    const leadership = this.#leading.get(meta.id);
    this.#meter(req);
    const run = (cb: (a: Answer) => void): void => {
      if (internal === undefined) this.#router.dispatch(session, req, cb);
      else this.#router.internal(meta.name, session, internal, cb);
    };
    run((a) => {
      // This node stepped down while the shard handled the request: its write is in no log the
      // new leader continues, so it must not be acknowledged (Replicator.hold would release it at
      // once, the queue being no longer led here). A handover (freeze) keeps the leadership and
      // its replication until the switch: those replies wait for their entries' commit below.
      if (this.#leading.get(meta.id) !== leadership) return done(notLeader(`node ${this.nodeId} stopped leading queue ${meta.name} while it handled the request`));
      if (req.op === 'receive' && 'result' in a) {
        // A shard's receive reply arrives encoded (protocol/encoded.ts): its size stands in for the
        // bodies' bytes rather than decoding it only to count them.
        if (a.result instanceof EncodedCbor) this.#load.note(meta.name, a.result.count, a.result.bytes.byteLength);
        else {
          const messages = (a.result as { messages: DeliveredMessage[] }).messages;
          this.#load.note(meta.name, messages.length, messages.reduce((n, m) => n + m.body.byteLength, 0));
        }
      }
      if (req.op === 'deleteQueue' && 'result' in a) {
        this.#replicator.hold(meta.id, () => {
          this.#coord!.deleteQueue(meta.name, meta.id).then(() => done(a), () => done(a));
        }, (error) => done({ error }));
        return;
      }
      if (req.op === 'setQueueAttributes' && 'result' in a) {
        const { attributes } = a.result as { attributes: QueueAttributes };
        this.#replicator.hold(meta.id, () => this.#recordAttributes(meta, attributes, a, done), (error) => done({ error }));
        return;
      }
      this.#replicator.hold(meta.id, () => done(a), (error) => done({ error }));
    });
  }

  /** After a committed setQueueAttributes: the queue's record in etcd gets the same attributes (attribute-record.ts). */
  #recordAttributes(meta: QueueMeta, attributes: QueueAttributes, a: Answer, done: (a: Answer) => void): void {
    this.#attributeRecords.write(meta.name, meta.id, attributes).then((outcome) => {
      switch (outcome) {
        case 'written':
          return done(a);
        case 'notLeader':
          return done(notLeader(`queue ${meta.name} changed leader before its record took the new attributes`));
        case 'gone':
          return done({ error: { code: ErrorCodes.QueueDoesNotExist, message: `queue ${meta.name} was deleted`, field: 'queue' } });
        case 'conflict':
          return done({ error: { code: ErrorCodes.PeerUnavailable, message: `queue ${meta.name}: its record in etcd kept changing; retry`, retryable: true } });
      }
    }, (err: unknown) => done({ error: { code: ErrorCodes.PeerUnavailable, message: `cannot write queue ${meta.name}'s record to etcd: ${(err as Error).message}`, retryable: true } }));
  }

  /** Load of the queues this node leads, for the rebalancer (load-meter.ts). */
  #meter(req: ValidRequest): void {
    switch (req.op) {
      case 'send':
        return this.#load.note(req.args.queue, 1, req.args.body.byteLength);
      case 'sendBatch':
        return this.#load.note(req.args.queue, req.args.entries.length, req.args.entries.reduce((n, e) => n + e.body.byteLength, 0));
      case 'delete':
        return this.#load.note(req.args.queue, 1, 0);
      case 'deleteBatch':
        return this.#load.note(req.args.queue, req.args.receipts.length, 0);
      case 'deleteReceipts':
        return this.#load.note(req.args.queue, req.args.receipts.byteLength / Limits.receiptChars, 0);
      default:
    }
  }

  /** Supervisor: a client's moveQueue or drainNode. */
  #admin(req: Extract<ValidRequest, { op: 'moveQueue' | 'drainNode' }>, done: (a: Answer) => void): void {
    const supervisor = this.#supervisor!;
    const answer = req.op === 'moveQueue' ? supervisor.moveQueue(req.args) : supervisor.drainNode(req.args);
    answer.then(done, (err: unknown) => done({ error: { code: ErrorCodes.Internal, message: String(err) } }));
  }

  /** Client session `session` sent a request to `node`, which hears when the session closes (closeSession). */
  #sessionUses(session: number, node: string): void {
    let nodes = this.#sessionNodes.get(session);
    if (nodes === undefined) this.#sessionNodes.set(session, (nodes = new Set()));
    nodes.add(node);
  }

  #forward(node: string, session: number, req: ValidRequest, done: (a: Answer) => void): void {
    this.#sessionUses(session, node);
    const timeout = req.op === 'receive' ? 35_000 : 30_000;
    this.#call(node, { t: 'op', origin: session, req: { op: req.op, args: req.args } }, done, timeout);
  }

  #create(req: Extract<ValidRequest, { op: 'createQueue' }>, done: (a: Answer) => void): void {
    const coord = this.#coord!;
    // Checked here, before the queue reaches etcd: the dead-letter queue may be led by any node.
    const refused = checkDeadLetter(req.args.queue, req.args.attributes, this.#catalog);
    if (refused !== undefined) return done({ error: refused });
    const existing = coord.queues.get(req.args.queue);
    if (existing !== undefined) {
      if (req.args.acks !== undefined && req.args.acks !== existing.acks) {
        return done({ error: { code: ErrorCodes.QueueAlreadyExists, message: `queue ${existing.name} exists with acks=${existing.acks}, not ${req.args.acks}`, field: 'acks' } });
      }
      const differs = partitionedCreateRefusal(existing, req.args);
      if (differs !== undefined) return done({ error: differs });
      if (existing.leader === this.nodeId) return this.#local(0, req, existing, done);
      return this.#forward(existing.leader, 0, req, done);
    }
    const supervisor = coord.supervisor;
    if (supervisor === undefined) return done(notLeader('no cluster supervisor is elected right now'));
    if (supervisor !== this.nodeId) return this.#call(supervisor, { t: 'create', args: req.args }, this.#onceKnown(req.args.queue, done));
    this.#createAsSupervisor(req, done);
  }

  /**
   * Read-your-writes for a create answered by the supervisor: the answer waits (bounded) until this
   * node's metadata has the queue too, so the client's next request here finds it (e.g. a
   * createQueue that names it as dead-letter queue, checked against this node's cache).
   */
  #onceKnown(name: string, done: (a: Answer) => void): (a: Answer) => void {
    return (a) => {
      if (!('result' in a)) return done(a);
      this.#whenKnown(name, Date.now() + RETRY_WINDOW_MS, () => done(a));
    };
  }

  /**
   * Calls `then` with queue `name`'s metadata once this node's etcd watch delivered it, or with
   * undefined at `deadline` or when the node closes (the cache is polled: creates are rare).
   */
  #whenKnown(name: string, deadline: number, then: (meta: QueueMeta | undefined) => void): void {
    const check = (): void => {
      const meta = this.#coord?.queues.get(name);
      if (meta !== undefined || Date.now() >= deadline || this.#closing) then(meta);
      else setTimeout(check, 20);
    };
    check();
  }

  /** Supervisor: places the queue, writes it to etcd, then waits for its leader to serve it. */
  #createAsSupervisor(req: Extract<ValidRequest, { op: 'createQueue' }>, done: (a: Answer) => void): void {
    const coord = this.#coord!;
    const metas = placePartitioned(this.#supervisor!, req.args);
    const meta = metas[0]!;
    (metas.length === 1 && meta.layout === undefined ? coord.createQueue(meta) : coord.commitRecords(metas, [])).then((created) => {
      // Either way the record is in etcd now; its leader answers (idempotently) once it serves it.
      const deadline = Date.now() + RETRY_WINDOW_MS;
      const ask = (): void => this.#whenKnown(req.args.queue, deadline, (current) => {
        if (current === undefined) return done(notLeader('the new queue did not appear in the cluster metadata in time'));
        const answer = (a: Answer): void => {
          if (retryableAnswer(a) && Date.now() < deadline) return void setTimeout(ask, 20);
          if (created && 'result' in a && current.id === meta.id) done({ result: { ...(a.result as object), created: true } });
          else done(a);
        };
        if (current.leader === this.nodeId) this.#local(0, req, current, answer);
        else this.#forward(current.leader, 0, req, answer);
      });
      ask();
    }, (err: unknown) => done({ error: { code: ErrorCodes.PeerUnavailable, message: `cannot reach etcd: ${(err as Error).message}`, retryable: true } }));
  }

  /** A client connection closed: local subscriptions and long polls end; forwarding nodes hear it. */
  closeSession(session: number): void {
    this.#router.closeSession(session);
    for (const node of this.#sessionNodes.get(session) ?? []) this.#links.get(node)?.cast({ t: 'closeSession', origin: session });
    this.#sessionNodes.delete(session);
    // After the partitions heard the close (local shards and peer links are FIFO): the long polls
    // of its partitioned subscriptions are gone there before the messages it held are given back,
    // so none of them takes a given-back message for a session that no longer reads.
    this.#partitions.closeSession(session);
    this.#subs.closeSession(session);
  }

  #routerPush(session: number, sub: number, messages: DeliveredMessage[]): void {
    const v = this.#vsessions.get(session);
    if (v !== undefined) return v.socket.cast({ t: 'push', origin: v.origin, sub, messages });
    const clientSub = this.#subs.lookup(this.nodeId, session, sub);
    if (clientSub !== undefined) this.#opts.sessions.push(session, clientSub, messages);
  }

  #routerSubEnd(session: number, sub: number, error: WireError): void {
    const v = this.#vsessions.get(session);
    if (v !== undefined) return v.socket.cast({ t: 'subEnd', origin: v.origin, sub, error });
    const clientSub = this.#subs.lookup(this.nodeId, session, sub);
    if (clientSub === undefined) return;
    this.#subs.remove(session, clientSub);
    this.#opts.sessions.subEnd(session, clientSub, error);
  }

  /** Casts that come back on a link this node dialed: pushes of forwarded subscriptions. */
  #onLinkCast(node: string, m: unknown): void {
    const cast = parseCast(m);
    if (cast === undefined || cast.t === 'closeSession') return;
    const clientSub = this.#subs.lookup(node, cast.origin, cast.sub);
    if (clientSub === undefined) return;
    if (cast.t === 'push') this.#opts.sessions.push(cast.origin, clientSub, cast.messages);
    else {
      this.#subs.remove(cast.origin, clientSub);
      this.#opts.sessions.subEnd(cast.origin, clientSub, cast.error);
    }
  }

  // ── peer side: calls from other nodes ──────────────────────────────────────

  #call(node: string, m: PeerCall, done: (a: PeerAnswer) => void, timeoutMs?: number): void {
    if (node === this.nodeId) {
      // The supervisor asks itself (marks) like any other replica.
      this.#onCall(undefined, m, done);
      return;
    }
    const link = this.#links.get(node);
    if (link === undefined) return done({ error: { code: ErrorCodes.PeerUnavailable, message: `node ${node} is not a live member; retry`, retryable: true } });
    link.call(m, done, timeoutMs);
  }

  #vsession(from: PeerSocket, origin: number): number {
    let map = this.#vsessionOf.get(from);
    if (map === undefined) this.#vsessionOf.set(from, (map = new Map()));
    let v = map.get(origin);
    if (v === undefined) {
      v = this.#nextVsession++;
      map.set(origin, v);
      this.#vsessions.set(v, { socket: from, origin });
    }
    return v;
  }

  #onCall(from: PeerSocket | undefined, m: unknown, done: (a: PeerAnswer) => void): void {
    const call = parseCall(m);
    if (call === undefined) return done({ error: { code: ErrorCodes.BadFrame, message: 'malformed peer call' } });
    const coord = this.#coord;
    if (coord === undefined) return done(notLeader('this node is still joining the cluster'));
    switch (call.t) {
      case 'op': {
        if (from === undefined) return done({ error: { code: ErrorCodes.Internal, message: 'op from self' } });
        let req: ValidRequest;
        try {
          req = validateRequest({ id: 0, op: call.req.op, args: call.req.args }, this.#opts.maxBodyBytes);
        } catch (err) {
          const error = err instanceof InvalidRequest ? err.error.toWire() : { code: ErrorCodes.Internal, message: String(err) };
          return done({ error });
        }
        const session = this.#vsession(from, call.origin);
        // This node's own redrive tasks (the front end asks every node, or the one that runs the task).
        if (req.op === 'credit' || req.op === 'unsubscribe' || req.op === 'listRedrives' || req.op === 'cancelRedrive') return this.#router.dispatch(session, req, done);
        if (req.op === 'listQueues' || req.op === 'moveQueue' || req.op === 'drainNode') return this.#route(session, req, done);
        const meta = coord.queues.get(req.args.queue);
        // The sender's metadata names this node the queue's leader, so this node's view lags (the
        // etcd watch reaches nodes at different times: a queue just created through another node)
        // or the sender's does (the queue was just deleted). Either way the sender retries with a
        // fresher view; it answers QueueDoesNotExist itself once its own metadata lacks the queue.
        if (meta === undefined) return done(notLeader(`node ${this.nodeId} has not seen queue ${req.args.queue} yet`));
        if (meta.leader !== this.nodeId) return done(notLeader(`node ${meta.leader} leads queue ${meta.name}`));
        return this.#local(session, req, meta, done);
      }
      case 'create':
        if (!coord.isSupervisor) return done(notLeader('this node is not the cluster supervisor'));
        return this.#createAsSupervisor({ id: 0, op: 'createQueue', args: call.args } as Extract<ValidRequest, { op: 'createQueue' }>, done);
      case 'repl': {
        if (this.#discarded.has(call.entry.qid, Date.now())) return done(deletedQueue(call.entry.qid));
        const meta = coord.queueById(call.entry.qid);
        // A node a move took out of the set refuses without fencing: the leader may be the same
        // one, about to lead the new epoch (handover.ts); it must not step down for that.
        if (meta !== undefined && !holders(meta).includes(this.nodeId)) return done(notMember(meta));
        if (meta !== undefined && call.entry.epoch < meta.epoch) {
          return done({ result: { ok: false, reason: 'fenced', mark: { epoch: meta.epoch, seq: 0 } } });
        }
        const shard = this.#shardFor(call.entry.qid);
        return this.#pool.request(shard, (r) => ({ t: 'apply', r, entry: call.entry }), (a) => {
          if ('result' in a) this.#placement.set(call.entry.qid, shard);
          done(a);
        });
      }
      case 'install': {
        if (this.#discarded.has(call.qid, Date.now())) return done(deletedQueue(call.qid));
        const meta = coord.queueById(call.qid);
        if (meta !== undefined && !holders(meta).includes(this.nodeId)) return done(notMember(meta));
        const shard = this.#shardFor(call.qid);
        return this.#pool.request(shard, (r) => ({ t: 'install', r, qid: call.qid, rows: call.rows, mark: call.mark }), (a) => {
          if ('result' in a) this.#placement.set(call.qid, shard);
          done(a);
        });
      }
      case 'ping':
        return done({ result: {} });
      case 'part':
        return this.#partLocal(from === undefined ? call.origin : this.#vsession(from, call.origin), call, done);
      case 'mark': {
        if (!this.#placement.has(call.qid)) return done({ result: { mark: { epoch: 0, seq: 0 } } });
        return this.#pool.request(this.#placement.get(call.qid)!, (r) => ({ t: 'mark', r, qid: call.qid }), done);
      }
      case 'insert':
        return this.#moves.accept(call.qid, call.items, done);
      case 'forget':
        return this.#moves.acceptForget(call.qid, call.origin, done);
      case 'load':
        return done({ result: { queues: this.#load.sample() } });
      case 'admin': {
        if (!coord.isSupervisor) return done(notLeader('this node is not the cluster supervisor'));
        let req: ValidRequest;
        try {
          req = validateRequest({ id: 0, op: call.req.op, args: call.req.args }, this.#opts.maxBodyBytes);
        } catch (err) {
          return done({ error: err instanceof InvalidRequest ? err.error.toWire() : { code: ErrorCodes.Internal, message: String(err) } });
        }
        if (req.op !== 'moveQueue' && req.op !== 'drainNode') return done({ error: { code: ErrorCodes.BadFrame, message: `${req.op} is not a supervisor op` } });
        return this.#admin(req, done);
      }
      case 'handover': {
        const meta = coord.queueById(call.qid);
        if (meta === undefined || meta.leader !== this.nodeId || meta.epoch !== call.epoch) {
          return done(notLeader(`this node does not lead epoch ${call.epoch} of queue ${call.qid}`));
        }
        return void handOver({
          freeze: (qid) => this.#freeze(qid),
          resume: (qid) => this.#resume(qid),
          progress: (qid) => this.#replicator.progress(qid),
          isLive: (node) => coord.nodes.has(node),
          current: (qid) => coord.queueById(qid),
          update: (next) => coord.updateQueue(next),
        }, this.nodeId, meta, { leader: call.leader, replicas: call.replicas }, { timeoutMs: 10_000, pollMs: 5 }).then(
          (next) => done({ result: { epoch: next.epoch } }),
          (err: unknown) => done({ error: { code: ErrorCodes.MoveFailed, message: (err as Error).message, retryable: true } }),
        );
      }
    }
  }

  // ── partitioned queues (partitions.ts, partition-ops.ts) ────────────────────

  /** Runs an op on one partition at its leader: here, or over the peer link. */
  #partCall(session: number, part: QueueMeta, gen: number | undefined, op: string, args: object, done: (a: Answer) => void): void {
    const call: PeerCall = { t: 'part', origin: session, qid: part.id, req: { op, args } };
    if (gen !== undefined) call.gen = gen;
    // A local shard's batch and receive replies arrive encoded (protocol/encoded.ts); partitions.ts
    // reads and merges them, so it gets the values (a peer's answer arrives decoded anyway).
    if (part.leader === this.nodeId) return this.#partLocal(session, call, (a) => done('result' in a ? { result: valueOf(a.result) } : a));
    if (session !== 0) this.#sessionUses(session, part.leader);
    this.#call(part.leader, call, done, 30_000);
  }

  /** The leader side of a `part` call. */
  #partLocal(session: number, call: Extract<PeerCall, { t: 'part' }>, done: (a: Answer) => void): void {
    const meta = this.#coord?.queueById(call.qid);
    const refused = partRefusal(this.nodeId, meta, call.gen, call.req.op);
    if (refused !== undefined) return done({ error: refused });
    let parsed: PartRequest;
    try {
      parsed = parsePartRequest(meta!, call.req.op, call.req.args, this.#opts.maxBodyBytes);
    } catch (err) {
      return done({ error: err instanceof InvalidRequest ? err.error.toWire() : { code: ErrorCodes.Internal, message: String(err) } });
    }
    if (parsed.kind === 'load') {
      return this.#local(session, { id: 0, op: 'getQueueAttributes', args: { queue: meta!.name } }, meta!, (a) => {
        if ('error' in a) return done(a);
        const messages = (a.result as { stats: { messages: number } }).stats.messages;
        done({ result: { messages, ratePerSec: this.#sendRates.rate(meta!.id) } });
      });
    }
    // Sends stored count toward the partition's rate (a conditional send refused does not).
    const counted = (n: number) => (a: Answer): void => {
      if ('result' in a && (a.result as { notHere?: true }).notHere !== true) this.#sendRates.note(meta!.id, n);
      done(a);
    };
    if (parsed.kind === 'internal') {
      return this.#local(session, { id: 0, op: 'getQueueAttributes', args: { queue: meta!.name } }, meta!, counted(parsed.messages), parsed.req);
    }
    this.#local(session, parsed.req, meta!, counted(sentCount(parsed.req)));
  }

  #onCast(from: PeerSocket, m: unknown): void {
    const cast = parseCast(m);
    if (cast?.t !== 'closeSession') return;
    const v = this.#vsessionOf.get(from)?.get(cast.origin);
    if (v === undefined) return;
    this.#vsessionOf.get(from)!.delete(cast.origin);
    this.#vsessions.delete(v);
    this.#router.closeSession(v);
  }

  #onPeerClosed(from: PeerSocket): void {
    const map = this.#vsessionOf.get(from);
    this.#vsessionOf.delete(from);
    for (const v of map?.values() ?? []) {
      this.#vsessions.delete(v);
      this.#router.closeSession(v);
    }
  }

  /**
   * This node's view of the cluster (GET /cluster): members, supervisor, and for every queue its
   * leader, epoch and this node's replication mark.
   */
  async status(): Promise<ClusterStatus> {
    const coord = this.#coord;
    const queues = await Promise.all([...(coord?.queues.values() ?? [])].map(async (meta) => {
      const shard = this.#placement.get(meta.id);
      let mark: ReplicaMark | undefined;
      if (shard !== undefined) {
        const a = await new Promise<Answer>((resolve) => this.#pool.request(shard, (r) => ({ t: 'mark', r, qid: meta.id }), resolve));
        if ('result' in a) mark = (a.result as { mark: ReplicaMark }).mark;
      }
      const l = this.#leading.get(meta.id);
      return {
        name: meta.name, id: meta.id, leader: meta.leader, epoch: meta.epoch, replicas: meta.replicas, learners: meta.learners ?? [], acks: meta.acks, attributes: meta.attributes,
        role: l?.ready === true ? 'leader' as const : meta.replicas.includes(this.nodeId) ? 'follower' as const
          : (meta.learners ?? []).includes(this.nodeId) ? 'learner' as const : 'none' as const,
        mark,
        ...(meta.part === undefined ? {} : { part: meta.part }),
        ...(meta.layout === undefined ? {} : { layout: meta.layout }),
      };
    }));
    return {
      node: this.nodeId, supervisor: coord?.supervisor, nodes: [...(coord?.nodes.keys() ?? [])].sort(), leaseSafe: coord?.leaseSafe === true,
      unreachable: this.#reach?.unreachable() ?? [], cutOff: [...(this.#reach?.cutOff ?? [])].sort(), queues,
    };
  }

  /** Leaves the cluster: no more forwarding, links closed, lease revoked (others fail over at once). */
  async close(): Promise<void> {
    this.#closing = true;
    this.#supervisor?.close();
    this.#moves.close();
    this.#reach?.close();
    this.#autoscaler?.close();
    this.#replicator.close();
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
    this.peerServer.closeAll();
    await this.#coord?.close();
  }
}
