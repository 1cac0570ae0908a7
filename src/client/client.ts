/** FerryClient and connect(): requests, admin helpers, subscriptions across reconnects. */
import { EventEmitter } from 'node:events';
import type TypedEmitter from 'typed-emitter';
import { ErrorCodes, FerryError, type WireError } from '../protocol/errors.js';
import { Limits } from '../protocol/limits.js';
import type { Partitioning } from '../protocol/partitioning.js';
import type { AcksPolicy, DeliveredMessage, OpArgs, OpName, OpResult, QueueAttributes, RedriveTask, StreamGroupInfo, StreamPosition } from '../protocol/ops.js';
import { backoffDelay } from './backoff.js';
import { Connection, type ConnectionState, type DisconnectInfo, type ReconnectInfo } from './connection.js';
import { Consumer, type ConsumeOptions, type MessageHandler } from './consumer.js';
import { resolveOptions, type ConnectOptions, type ResolvedOptions } from './options.js';
import { QueueClient } from './queue.js';
import { mayRepeat, mayRetry, withRetry } from './retry.js';
import { Subscription, type MessagesHandler, type SubscribeOptions, type SubscriptionHost } from './subscription.js';

export type ClientEvents = {
  /** A socket opened; `reconnected` is false for the first one. */
  connected: (url: string, reconnected: boolean) => void;
  /** An open socket closed unexpectedly; pending requests have been rejected. */
  disconnected: (info: DisconnectInfo) => void;
  /** A reconnect attempt is scheduled. */
  reconnecting: (info: ReconnectInfo) => void;
  /** Something went wrong that no request owns (unreadable frame, socket error). Emitted only if listened to. */
  error: (err: Error) => void;
};

/** A move copies a queue and waits for it to catch up: it may take far longer than a request. */
const MOVE_TIMEOUT_MS = 90_000;

export interface RequestCallOptions {
  timeoutMs?: number;
}

/** Cluster-mode settings of createQueue, fixed when the queue is created (docs/cluster.md). */
export interface CreateQueueOptions {
  /** How many replicas hold a send before it is acknowledged (default quorum). */
  acks?: AcksPolicy;
  /** Partitions at creation and autoscale (docs/protocol.md, createQueue `partitioning`). */
  partitioning?: Partial<Partitioning>;
}

export interface ListQueuesOptions {
  prefix?: string;
  /** Page size, 1..1000. */
  limit?: number;
  /** Start after this name (the `next` of the previous page). */
  after?: string;
}

export class FerryClient extends (EventEmitter as new () => TypedEmitter.default<ClientEvents>) {
  /** @internal */
  readonly connection: Connection;
  private readonly options: ResolvedOptions;
  private readonly bySubId = new Map<number, Subscription>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly consumers = new Set<Consumer>();
  private readonly subscriptionHost: SubscriptionHost;
  private closed = false;

  /** Use `connect()`. */
  constructor(options: ResolvedOptions) {
    super();
    this.options = options;
    this.connection = new Connection(options, {
      open: (url, reconnected) => this.onOpen(url, reconnected),
      disconnected: (info) => this.onDisconnected(info),
      reconnecting: (info) => this.emit('reconnecting', info),
      error: (err) => this.emitError(err),
      push: (sub, messages) => this.onPush(sub, messages),
      subEnd: (sub, end) => this.onSubEnd(sub, end),
    });
    this.subscriptionHost = {
      connection: this.connection,
      register: (id, sub) => {
        this.bySubId.set(id, sub);
      },
      unregister: (id, sub) => {
        if (this.bySubId.get(id) === sub) this.bySubId.delete(id);
      },
      forget: (sub) => {
        this.subscriptions.delete(sub);
      },
      retryDelayMs: () => backoffDelay(2, this.options.backoff),
      logError: (err, msg) => this.logError(err, msg),
    };
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** The URL of the current socket. */
  get url(): string {
    return this.connection.url;
  }

  /**
   * Sends any operation of the protocol. Requests of one event-loop turn share one WebSocket message.
   * After a retryable error, requests that are safe to repeat are sent again (retry.ts).
   */
  request<O extends OpName>(op: O, args: OpArgs<O>, opts: RequestCallOptions = {}): Promise<OpResult<O>> {
    let timeoutMs = opts.timeoutMs ?? this.options.requestTimeoutMs;
    if (op === 'receive') {
      const waitMs = (args as OpArgs<'receive'>).waitMs;
      // No waitMs: the queue's receiveWaitMs applies, up to the protocol ceiling.
      timeoutMs += typeof waitMs === 'number' && waitMs >= 0 ? waitMs : Limits.maxWaitMs;
    }
    const send = (): Promise<OpResult<O>> => this.connection.request(op, args as Record<string, unknown>, { timeoutMs }) as Promise<OpResult<O>>;
    const retry = this.options.retry;
    // A request that may never be repeated (a send without dedup ids, by default) goes out once,
    // without the retry loop: its async frame and closures, and its arguments kept alive for a
    // second attempt until the reply, were a per-request cost of a producer with many small
    // batches in flight (loadtest/analysis.md, ninth session).
    if (retry === undefined || !mayRepeat(op, args as Record<string, unknown>, retry.sends)) return send();
    return withRetry(send, (err) => mayRetry(op, args as Record<string, unknown>, err, retry.sends), {
      budgetMs: retry.budgetMs,
      backoff: this.options.backoff,
      // A connection that is closed for good (reconnect: false) cannot serve another attempt.
      closed: () => this.closed || this.connection.state === 'closed',
      retrying: (attempt, delayMs, err) => this.options.logger.debug({ op, attempt, delayMs, code: err.code }, 'ferry: retrying a request'),
    });
  }

  /** Cluster mode: moves a queue's leadership (and copy) to node `to`; resolves once it serves there. */
  moveQueue(name: string, to: string): Promise<OpResult<'moveQueue'>> {
    return this.request('moveQueue', { queue: name, to }, { timeoutMs: Math.max(this.options.requestTimeoutMs, MOVE_TIMEOUT_MS) });
  }

  /** Cluster mode: starts (or checks on) the drain of a node; `remaining` 0 means it may leave. */
  drainNode(node: string): Promise<OpResult<'drainNode'>> {
    return this.request('drainNode', { node });
  }

  /**
   * Creates a queue (no error if it exists with the same settings). `options` are cluster-mode
   * settings fixed at creation: the `acks` policy and the `partitioning` (docs/cluster.md).
   */
  createQueue(name: string, attributes?: Partial<QueueAttributes>, options: CreateQueueOptions = {}): Promise<OpResult<'createQueue'>> {
    const args: OpArgs<'createQueue'> = { queue: name };
    if (attributes !== undefined) args.attributes = attributes;
    if (options.acks !== undefined) args.acks = options.acks;
    if (options.partitioning !== undefined) args.partitioning = options.partitioning;
    return this.request('createQueue', args);
  }

  async deleteQueue(name: string): Promise<void> {
    await this.request('deleteQueue', { queue: name });
  }

  /** One page of queue names; `next` is set when there are more. */
  listQueues(opts: ListQueuesOptions = {}): Promise<OpResult<'listQueues'>> {
    return this.request('listQueues', { ...opts });
  }

  /** Every queue name (with `prefix`), following pages. */
  async *iterateQueues(opts: { prefix?: string; pageSize?: number } = {}): AsyncGenerator<string, void, undefined> {
    let after: string | undefined;
    do {
      const args: ListQueuesOptions = { limit: opts.pageSize ?? Limits.maxListLimit };
      if (opts.prefix !== undefined) args.prefix = opts.prefix;
      if (after !== undefined) args.after = after;
      const page = await this.listQueues(args);
      yield* page.queues;
      after = page.next;
    } while (after !== undefined);
  }

  getQueueAttributes(name: string): Promise<OpResult<'getQueueAttributes'>> {
    return this.request('getQueueAttributes', { queue: name });
  }

  async setQueueAttributes(name: string, attributes: Partial<QueueAttributes>): Promise<QueueAttributes> {
    return (await this.request('setQueueAttributes', { queue: name, attributes })).attributes;
  }

  /** Returns how many messages were removed. */
  async purgeQueue(name: string): Promise<number> {
    return (await this.request('purgeQueue', { queue: name })).purged;
  }

  /** Starts moving messages out of dead-letter queue `queue` (to each one's source, or `target`). */
  startRedrive(queue: string, opts: { target?: string; max?: number; ratePerSec?: number } = {}): Promise<RedriveTask> {
    return this.request('startRedrive', { queue, ...opts });
  }

  async listRedrives(): Promise<RedriveTask[]> {
    return (await this.request('listRedrives', {})).tasks;
  }

  cancelRedrive(task: string): Promise<RedriveTask> {
    return this.request('cancelRedrive', { task });
  }

  /** Stream-mode queues: creates consumer group `group` starting at `start` (default 'latest'). */
  createGroup(queue: string, group: string, start?: StreamPosition): Promise<StreamGroupInfo> {
    return this.request('createGroup', start === undefined ? { queue, group } : { queue, group, start });
  }

  async deleteGroup(queue: string, group: string): Promise<void> {
    await this.request('deleteGroup', { queue, group });
  }

  async listGroups(queue: string): Promise<StreamGroupInfo[]> {
    return (await this.request('listGroups', { queue })).groups;
  }

  /** Moves a group to `to` (replay from an offset or a timestamp); its leases end. */
  seek(queue: string, group: string, to: StreamPosition): Promise<StreamGroupInfo> {
    return this.request('seek', { queue, group, to });
  }

  queue(name: string): QueueClient {
    return new QueueClient(this, name);
  }

  /** Low level push subscription; see QueueClient.subscribe. */
  async subscribe(queue: string, opts: SubscribeOptions, onMessages: MessagesHandler): Promise<Subscription> {
    if (this.closed) throw new FerryError(ErrorCodes.ConnectionClosed, 'client is closed');
    const credit = opts.credit;
    if (!Number.isInteger(credit) || credit < 1 || credit > Limits.maxCredit) {
      throw new TypeError(`credit must be an integer from 1 to ${Limits.maxCredit}, got ${String(credit)}`);
    }
    if (typeof onMessages !== 'function') throw new TypeError('onMessages must be a function');
    const sub = new Subscription(this.subscriptionHost, queue, opts, onMessages);
    this.subscriptions.add(sub);
    await sub.subscribe(true);
    return sub;
  }

  /** See QueueClient.consume. */
  async consume(queue: string, handler: MessageHandler, opts: ConsumeOptions = {}): Promise<Consumer> {
    const consumer = new Consumer(
      {
        connection: this.connection,
        queue,
        subscribe: (credit, visibilityMs, onMessages, onEnd) => {
          const o: SubscribeOptions = { credit, onEnd };
          if (visibilityMs !== undefined) o.visibilityMs = visibilityMs;
          if (opts.group !== undefined) o.group = opts.group;
          return this.subscribe(queue, o, onMessages);
        },
        logError: (err, msg) => this.logError(err, msg),
      },
      handler,
      opts,
    );
    await consumer.start();
    this.consumers.add(consumer);
    void consumer.done.then(
      () => this.consumers.delete(consumer),
      () => this.consumers.delete(consumer),
    );
    return consumer;
  }

  /** Closes the socket for good: pending requests reject with ConnectionClosed, consumers stop, no reconnect. */
  async close(): Promise<void> {
    if (this.closed) return this.connection.close();
    this.closed = true;
    const err = new FerryError(ErrorCodes.ConnectionClosed, 'client closed');
    for (const c of this.consumers) c.abort();
    this.consumers.clear();
    for (const s of [...this.subscriptions]) s.abort(err);
    this.subscriptions.clear();
    this.bySubId.clear();
    await this.connection.close();
  }

  private onOpen(url: string, reconnected: boolean): void {
    if (reconnected) {
      for (const sub of this.subscriptions) void sub.subscribe(false);
    }
    this.emit('connected', url, reconnected);
  }

  private onDisconnected(info: DisconnectInfo): void {
    this.bySubId.clear();
    for (const sub of this.subscriptions) sub.detach();
    this.emit('disconnected', info);
  }

  private onPush(subId: number, messages: DeliveredMessage[]): void {
    const sub = this.bySubId.get(subId);
    if (sub === undefined) {
      this.options.logger.debug({ sub: subId, count: messages.length }, 'ferry: push for an unknown subscription');
      return;
    }
    sub.deliver(messages);
  }

  private onSubEnd(subId: number, end: WireError): void {
    const sub = this.bySubId.get(subId);
    if (sub === undefined) return;
    this.bySubId.delete(subId);
    sub.ended(FerryError.fromWire(end));
  }

  private emitError(err: Error): void {
    this.options.logger.warn({ err }, 'ferry: client error');
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private logError(err: unknown, msg: string): void {
    this.options.logger.warn({ err }, msg);
  }
}

/** Connects to the first reachable URL. Options are validated before any socket is opened. */
export async function connect(urls: string | readonly string[], options: ConnectOptions = {}): Promise<FerryClient> {
  const resolved = resolveOptions(urls, options);
  const client = new FerryClient(resolved);
  await client.connection.open();
  return client;
}
