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
 */
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { ErrorCodes, type WireError } from '../../protocol/errors.js';
import type { DeliveredMessage } from '../../protocol/ops.js';
import { InvalidRequest, validateRequest, type ValidRequest } from '../../protocol/validate.js';
import type { LogEntry, ReplicaMark } from '../../actors/replica-log.js';
import type { QueueInfo, QueueRequest } from '../../actors/shard-messages.js';
import type { PeerAnswer } from '../../transport/peer-frames.js';
import { PeerLink } from '../../transport/peer-link.js';
import { PeerServer, type PeerSocket } from '../../transport/peer-server.js';
import type { ClusterSettings } from '../config.js';
import type { Router, SessionSink } from '../router.js';
import type { Answer, ShardPool, ShardPoolEvents } from '../shard-pool.js';
import { Coordinator } from './coordinator.js';
import { SubscriptionMap } from './front-end.js';
import { deadLetterRefusal, redriveRefusal } from './unsupported.js';
import type { QueueMeta } from './meta.js';
import { parseCall, parseCast, type PeerCall } from './peer-messages.js';
import { Replicator } from './replicator.js';
import { ClusterSupervisor } from './supervisor.js';
import { isPartitionName } from './layout.js';
import { LoadMeter } from './load-meter.js';
import { FRONT_END_SUB, PartitionedFrontEnd } from './partitions.js';
import { parsePartRequest, partRefusal, sentCount, type PartRequest } from './partition-ops.js';
import { Autoscaler, partitionedCreateRefusal, placePartitioned } from './autoscaler.js';

export interface ClusterStatus {
  node: string;
  supervisor: string | undefined;
  nodes: string[];
  leaseSafe: boolean;
  queues: Array<{
    name: string; id: string; leader: string; epoch: number; replicas: string[]; acks: string;
    role: 'leader' | 'follower' | 'none';
    mark: ReplicaMark | undefined;
    /** A partition of a partitioned queue (layout.ts); partition 0 also shows the layout. */
    part?: QueueMeta['part'];
    layout?: QueueMeta['layout'];
  }>;
}

/** Sessions of forwarded requests start here (client sessions count up from 1). */
const VSESSION_BASE = 1 << 30;
const RETRY_WINDOW_MS = 15_000;
const RETRY_STEP_MS = 100;

export interface ClusterNodeOptions {
  settings: ClusterSettings;
  maxBodyBytes: number;
  log: Logger;
  /** Client sessions of this node's server. */
  sessions: SessionSink;
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
  #supervisor: ClusterSupervisor | undefined;
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
  readonly #load = new LoadMeter();
  readonly #links = new Map<string, PeerLink>();
  readonly #subs = new SubscriptionMap();
  /** Local shard of every queue this node holds a copy of (qid → shard). */
  readonly #placement = new Map<string, number>();
  readonly #leading = new Map<string, Leading>();
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
    this.#replicator = new Replicator({
      call: (node, m, done) => this.#call(node, m, done),
      snapshot: (qid, done) => {
        const l = this.#leading.get(qid);
        if (l === undefined) return done(notLeader('not leading'));
        this.#pool.request(l.shard, (r) => ({ t: 'snapshot', r, qid }), done);
      },
      isLive: (node) => this.#coord?.nodes.has(node) === true,
      leaseSafe: () => this.#coord?.leaseSafe === true,
      deposed: (qid) => this.#stepDown(qid, 'a follower holds a newer epoch'),
    }, this.#log);
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
    // Dead-letter queues and redrive are refused in cluster mode (unsupported.ts), so no outbox
    // records arise; any a shard still reports go the single-node way.
    forward: (shard, f, record) => this.#router.forward(shard, f, record),
    forwardDone: (shard, f) => this.#router.forwardDone(shard, f),
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
      membershipLost: (err) => {
        // Our lease is gone: other nodes already treat us as dead and fail over our queues. A
        // process that keeps running here could only cause harm; exit and let it be restarted.
        this.#log.fatal({ err }, 'lost cluster membership (etcd lease expired); exiting');
        this.#log.flush?.();
        process.exit(75);
      },
    });
    this.#supervisor = new ClusterSupervisor(this.#coord, {
      markOn: async (node, qid) => {
        const a = await new Promise<PeerAnswer>((resolve) => this.#call(node, { t: 'mark', qid }, resolve, 1000));
        return 'result' in a ? (a.result as { mark: ReplicaMark }).mark : undefined;
      },
    }, this.#log);
    this.#autoscaler = new Autoscaler(this.#coord, this.#supervisor, {
      call: (part, gen, op, args, done) => this.#partCall(0, part, gen, op, args, done),
    }, this.#log);
    this.#nodesChanged();
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
        this.#leading.delete(previous.id);
        this.#load.forget(previous.id);
        this.#replicator.drop(previous.id, { code: ErrorCodes.QueueDoesNotExist, message: `queue ${previous.name} was deleted` });
        this.#endRemoteSubs(previous.name);
      }
      return;
    }
    if (previous !== undefined && previous.leader !== meta.leader) this.#endRemoteSubs(meta.name);
    this.#reconcile(meta);
  }

  #endRemoteSubs(queue: string): void {
    const error: WireError = { code: ErrorCodes.NotLeader, message: `queue ${queue} changed leader; subscribe again`, retryable: true };
    for (const { session, sub } of this.#subs.matching((t) => t.queue === queue && t.node !== this.nodeId && t.node !== FRONT_END_SUB)) {
      this.#subs.remove(session, sub);
      this.#opts.sessions.subEnd(session, sub, error);
    }
  }

  /** Makes this node's role for one queue match the metadata. */
  #reconcile(meta: QueueMeta): void {
    const leading = this.#leading.get(meta.id);
    if (meta.leader !== this.nodeId) {
      if (leading !== undefined) this.#stepDown(meta.id, `node ${meta.leader} leads epoch ${meta.epoch}`);
      return;
    }
    if (leading !== undefined && leading.epoch === meta.epoch) return;
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
    const meta = this.#coord?.queueById(qid);
    if (meta !== undefined) this.#router.forget(meta.name, error);
    this.#pool.request(l.shard, (r) => ({ t: 'follow', r, qid }), () => undefined);
    this.#log.warn({ qid, why }, 'stepped down');
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
    const refused = deadLetterRefusal(req);
    if (refused !== undefined) return done({ error: refused });
    const coord = this.#coord;
    if (coord === undefined) return done(notLeader('this node is still joining the cluster'));
    switch (req.op) {
      case 'startRedrive':
      case 'listRedrives':
      case 'cancelRedrive':
        return done({ error: redriveRefusal(req.op) });
      case 'listQueues': {
        const { prefix = '', after, limit = 1000 } = req.args;
        const names = [...coord.queues.keys()].filter((n) => !isPartitionName(n) && n.startsWith(prefix) && (after === undefined || n > after)).sort();
        const page = names.slice(0, limit);
        return done({ result: names.length > limit ? { queues: page, next: page[page.length - 1]! } : { queues: page } });
      }
      case 'createQueue':
        return this.#create(req, done);
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
        if (meta === undefined) return done({ error: { code: ErrorCodes.QueueDoesNotExist, message: `queue ${req.args.queue} does not exist`, field: 'queue' } });
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

  /** A request for a queue this node leads, from a local client or a forwarding node (`internal`: an internal request of a partition). */
  #local(session: number, req: ValidRequest, meta: QueueMeta, done: (a: Answer) => void, internal?: QueueRequest): void {
    const l = this.#leading.get(meta.id);
    if (l === undefined || !l.ready) return done(notLeader(`node ${this.nodeId} is not (yet) serving queue ${meta.name}`));
    if (this.#coord?.leaseSafe !== true) return done(notLeader('this node cannot confirm its cluster membership'));
    const run = (cb: (a: Answer) => void): void => {
      if (internal === undefined) this.#router.dispatch(session, req, cb);
      else this.#router.internal(meta.name, session, internal, cb);
    };
    run((a) => {
      if (req.op === 'deleteQueue' && 'result' in a) {
        this.#replicator.hold(meta.id, () => {
          this.#coord!.deleteQueue(meta.name, meta.id).then(() => done(a), () => done(a));
        }, (error) => done({ error }));
        return;
      }
      this.#replicator.hold(meta.id, () => done(a), (error) => done({ error }));
    });
  }

  #forward(node: string, session: number, req: ValidRequest, done: (a: Answer) => void): void {
    let nodes = this.#sessionNodes.get(session);
    if (nodes === undefined) this.#sessionNodes.set(session, (nodes = new Set()));
    nodes.add(node);
    const timeout = req.op === 'receive' ? 35_000 : 30_000;
    this.#call(node, { t: 'op', origin: session, req: { op: req.op, args: req.args } }, done, timeout);
  }

  #create(req: Extract<ValidRequest, { op: 'createQueue' }>, done: (a: Answer) => void): void {
    const coord = this.#coord!;
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
    if (supervisor !== this.nodeId) return this.#call(supervisor, { t: 'create', args: req.args }, done);
    this.#createAsSupervisor(req, done);
  }

  /** Supervisor: places the queue, writes it to etcd, then waits for its leader to serve it. */
  #createAsSupervisor(req: Extract<ValidRequest, { op: 'createQueue' }>, done: (a: Answer) => void): void {
    const coord = this.#coord!;
    const metas = placePartitioned(this.#supervisor!, req.args);
    const meta = metas[0]!;
    (metas.length === 1 && meta.layout === undefined ? coord.createQueue(meta) : coord.commitRecords(metas, [])).then((created) => {
      // Either way the record is in etcd now; its leader answers (idempotently) once it serves it.
      const deadline = Date.now() + RETRY_WINDOW_MS;
      const ask = (): void => {
        const current = coord.queues.get(req.args.queue);
        if (current === undefined) {
          if (Date.now() < deadline) setTimeout(ask, 20);
          else done(notLeader('the new queue did not appear in the cluster metadata in time'));
          return;
        }
        const answer = (a: Answer): void => {
          if (retryableAnswer(a) && Date.now() < deadline) return void setTimeout(ask, 20);
          if (created && 'result' in a && current.id === meta.id) done({ result: { ...(a.result as object), created: true } });
          else done(a);
        };
        if (current.leader === this.nodeId) this.#local(0, req, current, answer);
        else this.#forward(current.leader, 0, req, answer);
      };
      ask();
    }, (err: unknown) => done({ error: { code: ErrorCodes.PeerUnavailable, message: `cannot reach etcd: ${(err as Error).message}`, retryable: true } }));
  }

  /** A client connection closed: local subscriptions and long polls end; forwarding nodes hear it. */
  closeSession(session: number): void {
    this.#partitions.closeSession(session);
    this.#router.closeSession(session);
    for (const node of this.#sessionNodes.get(session) ?? []) this.#links.get(node)?.cast({ t: 'closeSession', origin: session });
    this.#sessionNodes.delete(session);
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
        const refused = deadLetterRefusal(req);
        if (refused !== undefined) return done({ error: refused });
        const session = this.#vsession(from, call.origin);
        if (req.op === 'credit' || req.op === 'unsubscribe') return this.#router.dispatch(session, req, done);
        if (req.op === 'listQueues') return this.#route(session, req, done);
        if (req.op === 'startRedrive' || req.op === 'listRedrives' || req.op === 'cancelRedrive') return done({ error: redriveRefusal(req.op) });
        const meta = coord.queues.get(req.args.queue);
        if (meta === undefined) return done({ error: { code: ErrorCodes.QueueDoesNotExist, message: `queue ${req.args.queue} does not exist`, field: 'queue' } });
        if (meta.leader !== this.nodeId) return done(notLeader(`node ${meta.leader} leads queue ${meta.name}`));
        return this.#local(session, req, meta, done);
      }
      case 'create':
        if (!coord.isSupervisor) return done(notLeader('this node is not the cluster supervisor'));
        return this.#createAsSupervisor({ id: 0, op: 'createQueue', args: call.args } as Extract<ValidRequest, { op: 'createQueue' }>, done);
      case 'repl': {
        const meta = coord.queueById(call.entry.qid);
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
        const shard = this.#shardFor(call.qid);
        return this.#pool.request(shard, (r) => ({ t: 'install', r, qid: call.qid, rows: call.rows, mark: call.mark }), (a) => {
          if ('result' in a) this.#placement.set(call.qid, shard);
          done(a);
        });
      }
      case 'part':
        return this.#partLocal(from === undefined ? call.origin : this.#vsession(from, call.origin), call, done);
      case 'mark': {
        if (!this.#placement.has(call.qid)) return done({ result: { mark: { epoch: 0, seq: 0 } } });
        return this.#pool.request(this.#placement.get(call.qid)!, (r) => ({ t: 'mark', r, qid: call.qid }), done);
      }
    }
  }

  // ── partitioned queues (partitions.ts, partition-ops.ts) ────────────────────

  /** Runs an op on one partition at its leader: here, or over the peer link. */
  #partCall(session: number, part: QueueMeta, gen: number | undefined, op: string, args: object, done: (a: Answer) => void): void {
    const call: PeerCall = { t: 'part', origin: session, qid: part.id, req: { op, args } };
    if (gen !== undefined) call.gen = gen;
    if (part.leader === this.nodeId) return this.#partLocal(session, call, done);
    if (session !== 0) {
      let nodes = this.#sessionNodes.get(session);
      if (nodes === undefined) this.#sessionNodes.set(session, (nodes = new Set()));
      nodes.add(part.leader);
    }
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
        done({ result: { messages, ratePerSec: this.#load.rate(meta!.id) } });
      });
    }
    // Sends stored count toward the partition's rate (a conditional send refused does not).
    const counted = (n: number) => (a: Answer): void => {
      if ('result' in a && (a.result as { notHere?: true }).notHere !== true) this.#load.note(meta!.id, n);
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
        name: meta.name, id: meta.id, leader: meta.leader, epoch: meta.epoch, replicas: meta.replicas, acks: meta.acks,
        role: l?.ready === true ? 'leader' as const : meta.replicas.includes(this.nodeId) ? 'follower' as const : 'none' as const,
        mark,
        ...(meta.part === undefined ? {} : { part: meta.part }),
        ...(meta.layout === undefined ? {} : { layout: meta.layout }),
      };
    }));
    return {
      node: this.nodeId, supervisor: coord?.supervisor, nodes: [...(coord?.nodes.keys() ?? [])].sort(), leaseSafe: coord?.leaseSafe === true, queues,
    };
  }

  /** Leaves the cluster: no more forwarding, links closed, lease revoked (others fail over at once). */
  async close(): Promise<void> {
    this.#closing = true;
    this.#supervisor?.close();
    this.#autoscaler?.close();
    this.#replicator.close();
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
    this.peerServer.closeAll();
    await this.#coord?.close();
  }
}
