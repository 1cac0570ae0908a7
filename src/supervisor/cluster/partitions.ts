/**
 * The front end of a partitioned queue (docs/cluster.md "Partitions and autoscale"; the layout
 * and the strict-order rule are in layout.ts). A client op on such a queue becomes one or more
 * ops on its partitions, each run by that partition's leader through `PartitionPorts.call`
 * (locally or over the peer link), and the answers are merged:
 *
 * - send/sendBatch: relaxed entries go to the home of their groupId (else dedupId, so a retried
 *   send meets its dedup window; else round-robin), one sub-batch per partition; strict entries go
 *   group by group along the group's chain (conditional sends, then the home). Every send carries
 *   the layout generation it was routed by; a partition leader on another generation refuses it
 *   (retryable) and the entries are routed again from the current layout.
 * - receive: the partitions in turn from a rotating start until `max` messages are collected; a long
 *   poll repeats the round every POLL_STEP_MS until its wait ends (each round is non-blocking).
 * - delete, deleteBatch, changeVisibility, nack: the receipt names its partition's queue id
 *   (actors/receipt.ts), so it goes back to the partition that issued it.
 * - getQueueAttributes sums the partitions' stats; setQueueAttributes and purgeQueue apply to every
 *   partition; deleteQueue deletes the partitions, partition 0 (the queue's own record) last.
 * - subscribe over several partitions: the front end runs the subscription itself (`Pump`): the
 *   client's credit is split over the partitions as long polls of at most PUMP_POLL_MS each (a poll
 *   that comes back empty returns its share, so credit moves to where messages are), and what they
 *   return is pushed under the client's subscription id. Never more than the credit is leased at
 *   once. Each round reads the current layout, so partitions added or retired are followed. As on
 *   a subscription on one partition, the messages it pushed and the client has not deleted or
 *   nacked are given back (nack, delay 0) when the connection closes; after an unsubscribe their
 *   leases stay until they run out (docs/protocol.md "unsubscribe"). Messages a poll returns after
 *   the subscription ended were never pushed: they go back at once.
 */
import { ErrorCodes, type WireError } from '../../protocol/errors.js';
import { Limits } from '../../protocol/limits.js';
import { DEFAULT_QUEUE_ATTRIBUTES, type BatchEntryResult, type DeleteReceiptsResult, type DeliveredMessage, type OpArgs, type OpResult, type QueueStats, type SendEntry, type SendResult } from '../../protocol/ops.js';
import type { ValidRequest } from '../../protocol/validate.js';
import { decodeReceipt } from '../../actors/receipt.js';
import type { Answer } from '../shard-pool.js';
import { chain, home, partitionName, type Layout } from './layout.js';
import type { QueueMeta } from './meta.js';

/** What a partitioned front end needs from the cluster node. */
export interface PartitionPorts {
  /** The cached record named `name` (a queue or a hidden partition). */
  record(name: string): QueueMeta | undefined;
  recordById(qid: string): QueueMeta | undefined;
  /**
   * Runs `op` on partition record `part` at its leader (this node or a peer) for client `session`;
   * with `gen`, the leader refuses it (NotLeader, retryable) unless its record has that generation.
   */
  call(session: number, part: QueueMeta, gen: number | undefined, op: string, args: object, done: (a: Answer) => void): void;
  /** Pushes to a client subscription, and ends one. */
  push(session: number, sub: number, messages: DeliveredMessage[]): void;
  subEnd(session: number, sub: number, error: WireError): void;
}

/** A subscription over several partitions, run by the front end (see the top comment). */
interface Pump {
  session: number;
  sub: number;
  queue: string;
  qid: string;
  visibilityMs: number | undefined;
  /** Credit not lent to a poll. */
  credit: number;
  /** Partition qid → credit lent to its poll in flight. */
  polls: Map<string, number>;
  ended: boolean;
  turn: number;
  /**
   * Receipts pushed and not yet deleted or nacked by the client → their partition's queue id and
   * the end of their lease (insertion order is lease order, so run-out ones are pruned from the front).
   */
  held: Map<string, { qid: string; until: number }>;
}

const PUMP_POLL_MS = 1000;

/** The session of calls the front end makes on its own behalf (no client's: e.g. after it closed). */
const SYSTEM_SESSION = 0;
const ignoreAnswer = (): void => {};

/** The `node` of a client subscription run by this front end (no node id is empty). */
export const FRONT_END_SUB = '';

const POLL_STEP_MS = 50;
const RETRY_WINDOW_MS = 15_000;
/** Pause before routing again (a layout change reaches every node within milliseconds). */
const RETRY_STEP_MS = 25;

type SendOutcome = BatchEntryResult<SendResult>;

function retryable(e: WireError): boolean {
  return e.retryable === true || e.code === ErrorCodes.NotLeader || e.code === ErrorCodes.PeerUnavailable || e.code === ErrorCodes.ShardUnavailable;
}

function gone(name: string): WireError {
  return { code: ErrorCodes.QueueDoesNotExist, message: `queue ${name} does not exist`, field: 'queue' };
}

export class PartitionedFrontEnd {
  readonly #ports: PartitionPorts;
  /** Round-robin position per queue: ungrouped relaxed sends and the first partition a receive tries. */
  readonly #turn = new Map<string, number>();
  /** Long polls in progress per session (a closed session's polls stop). */
  readonly #polls = new Map<number, Set<() => void>>();
  /** Subscriptions over several partitions, by session and client subscription id. */
  readonly #pumps = new Map<number, Map<number, Pump>>();

  constructor(ports: PartitionPorts) {
    this.#ports = ports;
  }

  /** Partition records of queue `root`, index → record (a missing one is undefined). */
  #parts(root: QueueMeta, layout: Layout): Array<QueueMeta | undefined> {
    const out: Array<QueueMeta | undefined> = [];
    for (let i = 0; i < layout.total; i++) out.push(i === 0 ? root : this.#ports.record(partitionName(root.name, i)));
    return out;
  }

  #next(name: string): number {
    const n = (this.#turn.get(name) ?? 0) + 1;
    this.#turn.set(name, n);
    return n;
  }

  /** A client op on partitioned queue `root` (its record carries a layout). `done` exactly once. */
  handle(session: number, req: ValidRequest, root: QueueMeta, done: (a: Answer) => void): void {
    const layout = root.layout!;
    switch (req.op) {
      case 'send':
        return this.#send(session, req.args.queue, [req.args], Date.now() + RETRY_WINDOW_MS, (results) => {
          const r = results[0]!;
          done('ok' in r ? { result: r.ok } : { error: r.error });
        });
      case 'sendBatch':
        return this.#send(session, req.args.queue, req.args.entries, Date.now() + RETRY_WINDOW_MS, (results) => done({ result: { results } }));
      case 'receive':
        return this.#receive(session, root, req.args, done);
      case 'delete':
      case 'nack':
        this.#settled(session, [req.args.receipt]);
        return this.#byReceipt(session, root, req.args.receipt, req.op, req.args, done);
      case 'changeVisibility':
        return this.#byReceipt(session, root, req.args.receipt, req.op, req.args, done);
      case 'deleteBatch':
        this.#settled(session, req.args.receipts);
        return this.#deleteBatch(session, root, req.args, done);
      case 'deleteReceipts': {
        // The partitions are found by receipt, as for deleteBatch (the rare path: strings here).
        const receipts = receiptStrings(req.args.receipts);
        this.#settled(session, receipts);
        return this.#deleteBatch(session, root, { queue: req.args.queue, receipts }, (a) => done('error' in a ? a : { result: counted(a.result as OpResult<'deleteBatch'>) }));
      }
      case 'getQueueAttributes':
        return this.#attributes(session, root, layout, done);
      case 'setQueueAttributes':
        if (req.args.attributes.orderingWindowMs !== undefined && req.args.attributes.orderingWindowMs > 0) {
          return done({ error: { code: ErrorCodes.InvalidField, message: 'partitioning: an ordering window needs a queue of one partition', field: 'attributes.orderingWindowMs' } });
        }
        return this.#everyPartition(session, root, layout, req.op, req.args, true, (answers) => done(answers[0] ?? { error: gone(root.name) }));
      case 'purgeQueue':
        return this.#everyPartition(session, root, layout, req.op, req.args, false, (answers) => {
          const failed = answers.find((a): a is { error: WireError } => 'error' in a && a.error.code !== ErrorCodes.QueueDoesNotExist);
          if (failed !== undefined) return done(failed);
          done({ result: { purged: answers.reduce((n, a) => n + ('result' in a ? (a.result as { purged: number }).purged : 0), 0) } });
        });
      case 'deleteQueue':
        return this.#deleteQueue(session, root, done);
      case 'subscribe':
        // The cluster node handles it (it owns the client's subscription ids): see subscribe().
        return done({ error: { code: ErrorCodes.Internal, message: 'subscribe reached the partitioned front end' } });
      default:
        // createQueue (idempotent), stream ops (a partitioned queue is never a stream: the partition answers).
        return this.#ports.call(session, root, undefined, req.op, req.args, done);
    }
  }

  /**
   * A session closed: its long polls stop at their next round, its subscriptions end, and the
   * messages they pushed that the client had not settled are given back at once.
   */
  closeSession(session: number): void {
    for (const stop of this.#polls.get(session) ?? []) stop();
    this.#polls.delete(session);
    for (const pump of this.#pumps.get(session)?.values() ?? []) {
      pump.ended = true;
      this.#giveBack(pump, [...pump.held.entries()].map(([receipt, h]) => ({ receipt, qid: h.qid })));
      pump.held.clear();
    }
    this.#pumps.delete(session);
  }

  /** The client deleted or nacked these receipts: no subscription of its session holds them any more. */
  #settled(session: number, receipts: readonly string[]): void {
    const pumps = this.#pumps.get(session);
    if (pumps === undefined) return;
    for (const pump of pumps.values()) for (const r of receipts) pump.held.delete(r);
  }

  /**
   * Ends these leases now (nack with delay 0: visible again at the front, receive count kept, as a
   * single-partition subscription does at close). Sent as the system session: the client's is gone.
   * A receipt that no longer names a lease (deleted, run out) answers ReceiptHandleExpired: ignored.
   */
  #giveBack(pump: Pump, items: ReadonlyArray<{ receipt: string; qid: string }>): void {
    for (const { receipt, qid } of items) {
      const part = this.#ports.recordById(qid);
      if (part === undefined) continue;
      this.#ports.call(SYSTEM_SESSION, part, undefined, 'nack', { queue: pump.queue, receipt }, ignoreAnswer);
    }
  }

  /** Remembers pushed receipts until settled; leases that have run out are forgotten (no growth). */
  #hold(pump: Pump, qid: string, messages: readonly DeliveredMessage[], now: number): void {
    for (const [receipt, h] of pump.held) {
      if (h.until > now) break;
      pump.held.delete(receipt);
    }
    const root = this.#ports.record(pump.queue);
    const until = now + (pump.visibilityMs ?? root?.attributes.visibilityMs ?? DEFAULT_QUEUE_ATTRIBUTES.visibilityMs);
    for (const m of messages) pump.held.set(m.receipt, { qid, until });
  }

  // ── subscriptions over several partitions ──────────────────────────────────

  /** Starts subscription `sub` (the client's id, already answered) on partitioned queue `root`. */
  subscribe(session: number, sub: number, root: QueueMeta, args: OpArgs<'subscribe'>): void {
    const pump: Pump = {
      session, sub, queue: root.name, qid: root.id, visibilityMs: args.visibilityMs, credit: args.credit, polls: new Map(), ended: false, turn: 0,
      held: new Map(),
    };
    let subs = this.#pumps.get(session);
    if (subs === undefined) this.#pumps.set(session, (subs = new Map()));
    subs.set(sub, pump);
    // After the subscribe answer: the protocol sends it before the first push.
    setImmediate(() => this.#pump(pump));
  }

  /** Whether `sub` of `session` is a subscription this front end runs. */
  runs(session: number, sub: number): boolean {
    return this.#pumps.get(session)?.has(sub) === true;
  }

  credit(session: number, sub: number, credit: number): { credit: number } {
    const pump = this.#pumps.get(session)?.get(sub);
    if (pump === undefined) return { credit: 0 };
    let lent = 0;
    for (const c of pump.polls.values()) lent += c;
    pump.credit = Math.min(Limits.maxCredit - lent, pump.credit + credit);
    this.#pump(pump);
    return { credit: pump.credit + lent };
  }

  unsubscribe(session: number, sub: number): void {
    const pump = this.#pumps.get(session)?.get(sub);
    if (pump === undefined) return;
    pump.ended = true;
    this.#pumps.get(session)!.delete(sub);
  }

  #end(pump: Pump, error: WireError): void {
    if (pump.ended) return;
    this.unsubscribe(pump.session, pump.sub);
    this.#ports.subEnd(pump.session, pump.sub, error);
  }

  /** Lends the free credit to polls of the partitions that have none in flight, from a rotating start. */
  #pump(pump: Pump): void {
    if (pump.ended || pump.credit === 0) return;
    const root = this.#ports.record(pump.queue);
    if (root?.layout === undefined || root.id !== pump.qid) return this.#end(pump, gone(pump.queue));
    const parts = this.#parts(root, root.layout).filter((p): p is QueueMeta => p !== undefined && !pump.polls.has(p.id));
    if (parts.length === 0) return;
    const start = pump.turn++ % parts.length;
    const order = [...parts.slice(start), ...parts.slice(0, start)];
    const share = Math.max(1, Math.floor(pump.credit / order.length));
    for (const part of order) {
      if (pump.credit === 0) break;
      const max = Math.min(share, pump.credit, Limits.maxReceive);
      pump.credit -= max;
      pump.polls.set(part.id, max);
      const args: OpArgs<'receive'> = { queue: pump.queue, max, waitMs: PUMP_POLL_MS };
      if (pump.visibilityMs !== undefined) args.visibilityMs = pump.visibilityMs;
      this.#ports.call(pump.session, part, undefined, 'receive', args, (a) => {
        pump.polls.delete(part.id);
        const messages = 'result' in a ? (a.result as { messages: DeliveredMessage[] }).messages : [];
        pump.credit += max - messages.length;
        if (pump.ended) {
          // A poll that answers after the subscription ended (unsubscribe or close): its messages
          // were never pushed, so nobody holds them; they go back at once instead of waiting out
          // their lease (a subscription on one partition leases nothing after it ends).
          this.#giveBack(pump, messages.map((m) => ({ receipt: m.receipt, qid: part.id })));
          return;
        }
        if (messages.length > 0) {
          this.#hold(pump, part.id, messages, Date.now());
          this.#ports.push(pump.session, pump.sub, messages);
        }
        if ('error' in a && !retryable(a.error) && a.error.code !== ErrorCodes.QueueDoesNotExist) return this.#end(pump, a.error);
        if ('error' in a) return void setTimeout(() => this.#pump(pump), RETRY_STEP_MS);
        this.#pump(pump);
      });
    }
  }

  // ── sends ───────────────────────────────────────────────────────────────────

  /**
   * Routes `entries` of queue `name` by the layout current now; entries refused by a partition on
   * another generation (or a leader change) are routed again until `deadline`.
   */
  #send(session: number, name: string, entries: readonly SendEntry[], deadline: number, done: (results: SendOutcome[]) => void): void {
    const root = this.#ports.record(name);
    if (root?.layout === undefined) return done(entries.map(() => ({ error: gone(name) })));
    const layout = root.layout;
    const results = new Array<SendOutcome | undefined>(entries.length);
    const again: number[] = [];
    let pending = 0;
    const finish = (): void => {
      if (--pending > 0) return;
      if (again.length === 0) return done(results as SendOutcome[]);
      again.sort((a, b) => a - b);
      const retry = (): void => this.#send(session, name, again.map((i) => entries[i]!), deadline, (r) => {
        again.forEach((i, k) => (results[i] = r[k]!));
        done(results as SendOutcome[]);
      });
      setTimeout(retry, RETRY_STEP_MS);
    };
    /** Stores the answer of the entries `idx`, or marks them for another routing round. */
    const settle = (idx: readonly number[], a: Answer): void => {
      if ('error' in a) {
        if (retryable(a.error) && Date.now() < deadline) again.push(...idx);
        else for (const i of idx) results[i] = { error: a.error };
        return;
      }
      const rs = (a.result as { results: SendOutcome[] }).results;
      idx.forEach((i, k) => {
        const r = rs[k]!;
        if ('error' in r && retryable(r.error) && Date.now() < deadline) again.push(i);
        else results[i] = r;
      });
    };
    const parts = this.#parts(root, layout);
    const strict = root.attributes.ordering === 'strict';
    const buckets = new Map<string, number[]>();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const key = strict ? `g${e.groupId ?? ''}` : e.groupId !== undefined ? `p${home(layout, e.groupId)}`
        : e.dedupId !== undefined ? `p${home(layout, e.dedupId)}` : `p${this.#next(name) % layout.active}`;
      let b = buckets.get(key);
      if (b === undefined) buckets.set(key, (b = []));
      b.push(i);
    }
    pending = buckets.size + 1;
    for (const [key, idx] of buckets) {
      const batch = idx.map((i) => entries[i]!);
      if (!strict) {
        const part = parts[Number(key.slice(1))];
        if (part === undefined) {
          settle(idx, { error: { code: ErrorCodes.NotLeader, message: `partition ${key.slice(1)} of ${name} is not in this node's metadata yet`, retryable: true } });
          finish();
          continue;
        }
        this.#ports.call(session, part, layout.gen, 'sendBatch', { queue: name, entries: batch }, (a) => {
          settle(idx, a);
          finish();
        });
        continue;
      }
      const group = key.slice(1);
      const steps = chain(layout, group);
      const walk = (k: number): void => {
        const index = steps[k]!;
        const part = parts[index];
        const last = k === steps.length - 1;
        if (part === undefined) {
          // A partition missing from the cache: not yet created here (home), or deleted (empty, so it holds no group).
          if (!last) return walk(k + 1);
          settle(idx, { error: { code: ErrorCodes.NotLeader, message: `partition ${index} of ${name} is not in this node's metadata yet`, retryable: true } });
          return finish();
        }
        if (last) {
          return this.#ports.call(session, part, layout.gen, 'sendBatch', { queue: name, entries: batch }, (a) => {
            settle(idx, a);
            finish();
          });
        }
        this.#ports.call(session, part, layout.gen, 'sendIfGroup', { queue: name, group, entries: batch }, (a) => {
          if ('result' in a && (a.result as { notHere?: true }).notHere === true) return walk(k + 1);
          settle(idx, a);
          finish();
        });
      };
      walk(0);
    }
    finish();
  }

  // ── receives ────────────────────────────────────────────────────────────────

  #receive(session: number, root: QueueMeta, args: OpArgs<'receive'>, done: (a: Answer) => void): void {
    const max = args.max ?? 1;
    const deadline = Date.now() + (args.waitMs ?? root.attributes.receiveWaitMs ?? 0);
    let stopped = false;
    const stop = (): void => {
      stopped = true;
    };
    let polls = this.#polls.get(session);
    if (polls === undefined) this.#polls.set(session, (polls = new Set()));
    polls.add(stop);
    const finish = (a: Answer): void => {
      polls.delete(stop);
      if (polls.size === 0 && this.#polls.get(session) === polls) this.#polls.delete(session);
      done(a);
    };
    const round = (): void => {
      if (stopped) return finish({ error: { code: ErrorCodes.ConnectionClosed, message: 'the connection closed during the receive' } });
      const current = this.#ports.record(root.name);
      if (current?.layout === undefined || current.id !== root.id) return finish({ error: gone(root.name) });
      const parts = this.#parts(current, current.layout).filter((p): p is QueueMeta => p !== undefined);
      const start = this.#next(root.name) % parts.length;
      const order = [...parts.slice(start), ...parts.slice(0, start)];
      const messages: DeliveredMessage[] = [];
      let firstError: WireError | undefined;
      const step = (k: number): void => {
        if (k === order.length || messages.length >= max) {
          if (messages.length > 0) return finish({ result: { messages } });
          if (firstError !== undefined && !retryable(firstError)) return finish({ error: firstError });
          if (Date.now() >= deadline) return finish(firstError !== undefined ? { error: firstError } : { result: { messages } });
          return void setTimeout(round, Math.min(POLL_STEP_MS, Math.max(1, deadline - Date.now())));
        }
        const partArgs: OpArgs<'receive'> = { queue: root.name, max: max - messages.length, waitMs: 0 };
        if (args.visibilityMs !== undefined) partArgs.visibilityMs = args.visibilityMs;
        this.#ports.call(session, order[k]!, undefined, 'receive', partArgs, (a) => {
          if ('result' in a) messages.push(...(a.result as { messages: DeliveredMessage[] }).messages);
          else if (a.error.code !== ErrorCodes.QueueDoesNotExist) firstError ??= a.error;
          step(k + 1);
        });
      };
      step(0);
    };
    round();
  }

  /** The partition a receipt came from (partition 0 answers receipts that name none of them). */
  #partOf(root: QueueMeta, receipt: string): QueueMeta {
    const r = decodeReceipt(receipt);
    const part = r === undefined ? undefined : this.#ports.recordById(r.qid);
    return part?.part?.of === root.name ? part : root;
  }

  #byReceipt(session: number, root: QueueMeta, receipt: string, op: string, args: object, done: (a: Answer) => void): void {
    this.#ports.call(session, this.#partOf(root, receipt), undefined, op, args, done);
  }

  #deleteBatch(session: number, root: QueueMeta, args: OpArgs<'deleteBatch'>, done: (a: Answer) => void): void {
    const byPart = new Map<QueueMeta, number[]>();
    args.receipts.forEach((r, i) => {
      const part = this.#partOf(root, r);
      let idx = byPart.get(part);
      if (idx === undefined) byPart.set(part, (idx = []));
      idx.push(i);
    });
    const results = new Array<BatchEntryResult<{ deleted: boolean }>>(args.receipts.length);
    let pending = byPart.size;
    for (const [part, idx] of byPart) {
      this.#ports.call(session, part, undefined, 'deleteBatch', { queue: root.name, receipts: idx.map((i) => args.receipts[i]!) }, (a) => {
        if ('error' in a) for (const i of idx) results[i] = { error: a.error };
        else {
          const rs = (a.result as { results: Array<BatchEntryResult<{ deleted: boolean }>> }).results;
          // Each entry's field names its place in the client's batch, not in the sub-batch.
          idx.forEach((i, k) => {
            const r = rs[k]!;
            if ('error' in r && r.error.field !== undefined) r.error.field = r.error.field.replace(/^receipts\.\d+/, `receipts.${i}`);
            results[i] = r;
          });
        }
        if (--pending === 0) done({ result: { results } });
      });
    }
  }

  // ── whole-queue ops ─────────────────────────────────────────────────────────

  /** Runs `op` on every partition (in order when `sequential`); answers in partition order. */
  #everyPartition(session: number, root: QueueMeta, layout: Layout, op: string, args: object, sequential: boolean, done: (answers: Answer[]) => void): void {
    const parts = this.#parts(root, layout).filter((p): p is QueueMeta => p !== undefined);
    const answers = new Array<Answer>(parts.length);
    if (sequential) {
      const step = (k: number): void => {
        if (k === parts.length) return done(answers);
        this.#ports.call(session, parts[k]!, undefined, op, args, (a) => {
          answers[k] = a;
          if ('error' in a && k === 0) return done(answers.slice(0, 1));
          step(k + 1);
        });
      };
      return step(0);
    }
    let pending = parts.length;
    parts.forEach((p, k) => this.#ports.call(session, p, undefined, op, args, (a) => {
      answers[k] = a;
      if (--pending === 0) done(answers);
    }));
  }

  #attributes(session: number, root: QueueMeta, layout: Layout, done: (a: Answer) => void): void {
    this.#everyPartition(session, root, layout, 'getQueueAttributes', { queue: root.name }, false, (answers) => {
      const first = answers[0];
      if (first === undefined || 'error' in first) return done(first ?? { error: gone(root.name) });
      const base = first.result as { queue: string; attributes: object; stats: QueueStats; createdAt: number };
      const stats: QueueStats = { ...base.stats };
      for (const a of answers.slice(1)) {
        if (!('result' in a)) continue;
        const s = (a.result as { stats: QueueStats }).stats;
        for (const k of Object.keys(stats) as Array<keyof QueueStats>) stats[k] = k === 'oldestAgeMs' ? Math.max(stats[k], s[k]) : stats[k] + s[k];
      }
      done({ result: { ...base, queue: root.name, stats, partitions: { active: layout.active, total: layout.total } } });
    });
  }

  #deleteQueue(session: number, root: QueueMeta, done: (a: Answer) => void): void {
    // Every partition record of the queue, the layout's and any left over from an interrupted retirement.
    const parts: QueueMeta[] = [];
    for (let i = 1; ; i++) {
      const p = this.#ports.record(partitionName(root.name, i));
      if (p === undefined && i >= (root.layout?.total ?? 1)) break;
      if (p !== undefined) parts.push(p);
    }
    const step = (k: number): void => {
      if (k === parts.length) return this.#ports.call(session, root, undefined, 'deleteQueue', { queue: root.name }, done);
      this.#ports.call(session, parts[k]!, undefined, 'deleteQueue', { queue: root.name }, (a) => {
        if ('error' in a && a.error.code !== ErrorCodes.QueueDoesNotExist) return done(a);
        step(k + 1);
      });
    };
    step(0);
  }
}

/** deleteReceipts' packed receipts (validated: a whole number of them) as strings. */
function receiptStrings(bytes: Uint8Array): string[] {
  const size = Limits.receiptChars;
  const out = new Array<string>(bytes.byteLength / size);
  for (let i = 0; i < out.length; i++) out[i] = Buffer.from(bytes.buffer, bytes.byteOffset + i * size, size).toString('latin1');
  return out;
}

/** deleteBatch's per-entry results as deleteReceipts answers them. */
function counted(r: OpResult<'deleteBatch'>): DeleteReceiptsResult {
  const out: DeleteReceiptsResult = { deleted: 0, gone: 0, errors: [] };
  r.results.forEach((e, index) => {
    if ('error' in e) out.errors.push({ index, error: e.error });
    else if (e.ok.deleted) out.deleted++;
    else out.gone++;
  });
  return out;
}
