/** QueueClient: the operations on one queue. Get one with `client.queue(name)`. */
import type { BatchEntryResult, DeliveredMessage, NackResult, OpResult, SendEntry, SendResult } from '../protocol/ops.js';
import { toBytes, type Body } from './body.js';
import type { FerryClient } from './client.js';
import { Consumer, type ConsumeOptions, type MessageHandler } from './consumer.js';
import type { MessagesHandler, SubscribeOptions, Subscription } from './subscription.js';

/** Everything a send carries beside its body (the protocol's SendEntry fields, documented there). */
export type SendOptions = Omit<SendEntry, 'body'>;

export type SendBatchEntry = Body | ({ body: Body } & SendOptions);

export interface ReceiveOptions {
  /** Messages to get at most, 1..1000. Default 1 (server side). */
  max?: number;
  visibilityMs?: number;
  /** Long-poll up to this long for a first message, ms (at most 20000). */
  waitMs?: number;
  /** Stream-mode queues: the consumer group to read for (required there). */
  group?: string;
}

function entry(body: Body, opts: SendOptions | undefined): SendEntry {
  const e: SendEntry = { body: toBytes(body) };
  if (opts?.delayMs !== undefined) e.delayMs = opts.delayMs;
  if (opts?.attributes !== undefined) e.attributes = opts.attributes;
  if (opts?.ttlMs !== undefined) e.ttlMs = opts.ttlMs;
  if (opts?.groupId !== undefined) e.groupId = opts.groupId;
  if (opts?.dedupId !== undefined) e.dedupId = opts.dedupId;
  if (opts?.timestamp !== undefined) e.timestamp = opts.timestamp;
  if (opts?.producer !== undefined) e.producer = opts.producer;
  return e;
}

export class QueueClient {
  constructor(
    private readonly client: FerryClient,
    readonly name: string,
  ) {}

  send(body: Body, opts?: SendOptions): Promise<SendResult> {
    return this.client.request('send', { queue: this.name, ...entry(body, opts) });
  }

  /** One result per entry, in order: `{ok}` or `{error}`. */
  async sendBatch(entries: readonly SendBatchEntry[]): Promise<BatchEntryResult<SendResult>[]> {
    const wire = entries.map((e) => (typeof e === 'string' || e instanceof Uint8Array ? entry(e, undefined) : entry(e.body, e)));
    return (await this.client.request('sendBatch', { queue: this.name, entries: wire })).results;
  }

  async receive(opts: ReceiveOptions = {}): Promise<DeliveredMessage[]> {
    return (await this.client.request('receive', { queue: this.name, ...opts })).messages;
  }

  /** True if the message was deleted by this call. */
  async delete(receipt: string): Promise<boolean> {
    return (await this.client.request('delete', { queue: this.name, receipt })).deleted;
  }

  async deleteBatch(receipts: readonly string[]): Promise<BatchEntryResult<{ deleted: boolean }>[]> {
    return (await this.client.request('deleteBatch', { queue: this.name, receipts: [...receipts] })).results;
  }

  /** Returns when the message becomes visible again (ms since the epoch). */
  async changeVisibility(receipt: string, visibilityMs: number): Promise<number> {
    return (await this.client.request('changeVisibility', { queue: this.name, receipt, visibilityMs })).visibleAt;
  }

  /**
   * Gives the message back, visible again after `delayMs` (default 0). Returns when it becomes
   * visible, or undefined when it was dead-lettered instead (it reached the queue's maxReceives).
   */
  async nack(receipt: string, delayMs?: number): Promise<number | undefined> {
    const args: { queue: string; receipt: string; delayMs?: number } = { queue: this.name, receipt };
    if (delayMs !== undefined) args.delayMs = delayMs;
    return (await this.client.request('nack', args)).visibleAt;
  }

  /** Rejects the message for good (nack with requeue false): dead-lettered with reason `rejected`, or deleted when there is no DLQ. */
  reject(receipt: string): Promise<NackResult> {
    return this.client.request('nack', { queue: this.name, receipt, requeue: false });
  }

  attributes(): Promise<OpResult<'getQueueAttributes'>> {
    return this.client.getQueueAttributes(this.name);
  }

  /** Low level push subscription: you grant credit yourself with `sub.credit(n)`. */
  subscribe(opts: SubscribeOptions, onMessages: MessagesHandler): Promise<Subscription> {
    return this.client.subscribe(this.name, opts, onMessages);
  }

  /** Runs `handler` for every message; resolve → delete, throw → nack. */
  consume(handler: MessageHandler, opts: ConsumeOptions = {}): Promise<Consumer> {
    return this.client.consume(this.name, handler, opts);
  }
}
