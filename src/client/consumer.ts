/**
 * consume(): a push subscription that runs a handler per message. Resolves → ack (delete),
 * throws → nack; each ack/nack gives one credit back. The deletes of one turn go out as one
 * deleteReceipts (deleteBatch with the receipts packed in one byte string: no text item per
 * receipt to encode here, nor to decode on the broker, which answers in counts) and the credit as
 * one `credit` request, in the same WebSocket message. A broker that does not know
 * deleteReceipts (UnknownOp) gets deleteBatch from then on.
 *
 * A large push is worked through in slices of about prefetch/2 handlers per event-loop turn, so
 * the acks and credit of the first slice are on the wire (and the broker refills) while the next
 * slice runs: with one slice per push, consumer and broker would take turns and idle in between.
 * Halves rather than eighths: every slice costs a WebSocket message, a deleteBatch and a credit
 * request, and a shard turn (with its synced write) on the broker; interleaved runs of consume-1
 * and consume-16 measured 10-25% less CPU per message on both sides with halves (loadtest/analysis.md).
 *
 * After a reconnect the server redelivers what was unacked (at-least-once); acks of messages from
 * before the reconnect are dropped, since their receipts are stale.
 */
import { ErrorCodes, FerryError } from '../protocol/errors.js';
import type { DeliveredMessage } from '../protocol/ops.js';
import { Limits } from '../protocol/limits.js';
import type { Connection } from './connection.js';
import { intOption } from './options.js';
import type { Subscription } from './subscription.js';

export type MessageHandler = (message: DeliveredMessage) => Promise<void> | void;

export interface ConsumeOptions {
  /** Messages held at once (subscription credit). Default 100, 1..100000. */
  prefetch?: number;
  /** Lease length of delivered messages; the queue's default if absent. */
  visibilityMs?: number;
  /** Stream-mode queues: the consumer group to consume for (required there). Acks acknowledge for the group. */
  group?: string;
  /** Handlers running at once. Default: prefetch. */
  concurrency?: number;
  /** Delay of a nack after the handler throws, ms. Default 0. */
  nackDelayMs?: number;
  /**
   * How long acks may wait for later acks to share their request, ms, 0..1000. Default 2. A turn
   * that ends with 64 acks or more waiting sends them at once; 0 sends every turn's acks at the end
   * of that turn.
   */
  ackDelayMs?: number;
  /** Called when the handler throws (the message is nacked either way). */
  onError?: (err: unknown, message: DeliveredMessage) => void;
}

export interface ConsumerStats {
  received: number;
  acked: number;
  nacked: number;
  /** Results dropped because a reconnect made their receipts stale. */
  stale: number;
}

/**
 * The messages of one push not yet started, from `next` on. The backlog holds pushes rather than
 * one entry per message (profiled: `shift()` of a thousand-entry array and an object per message
 * were a fifth of a consuming load generator's time).
 */
interface Pushed {
  messages: DeliveredMessage[];
  next: number;
  generation: number;
}

/** What a Consumer needs from its QueueClient. */
export interface ConsumerHost {
  readonly connection: Connection;
  readonly queue: string;
  subscribe(credit: number, visibilityMs: number | undefined, onMessages: (m: DeliveredMessage[], s: Subscription) => void, onEnd: (err: FerryError) => void): Promise<Subscription>;
  logError(err: unknown, msg: string): void;
}

const DEFAULT_ACK_DELAY_MS = 2;
const MAX_ACK_DELAY_MS = 1000;
/** Acks waiting at the end of a turn that go at once: a busy consumer's acks never wait for company. */
const ACKS_SENT_AT_ONCE = 64;

export class Consumer {
  readonly prefetch: number;
  readonly concurrency: number;
  readonly stats: ConsumerStats = { received: 0, acked: 0, nacked: 0, stale: 0 };
  /** Resolves when the consumer is closed; rejects if the server ended the subscription for good. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (err: FerryError) => void;
  private sub: Subscription | undefined;
  private readonly backlog: Pushed[] = [];
  /** Messages in the backlog. */
  private waiting = 0;
  private running = 0;
  private closing = false;
  private acks: string[] = [];
  private acksQueued = false;
  private readonly ackDelayMs: number;
  /** Set while acks wait for company (ackDelayMs). */
  private ackTimer: NodeJS.Timeout | undefined;
  /** Acks go as deleteReceipts until the broker answers it with UnknownOp. */
  private packedAcks = true;
  private readonly inflight = new Set<Promise<unknown>>();
  private idleWaiters: (() => void)[] = [];
  /** Handlers started in the current slice, and whether the next slice is scheduled. */
  private readonly slice: number;
  private startedInSlice = 0;
  private pumping = false;
  private sliceScheduled = false;
  private readonly visibilityMs: number | undefined;
  private readonly nackDelayMs: number;
  private readonly onError: ((err: unknown, message: DeliveredMessage) => void) | undefined;

  constructor(
    private readonly host: ConsumerHost,
    private readonly handler: MessageHandler,
    options: ConsumeOptions = {},
  ) {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    this.prefetch = intOption('prefetch', options.prefetch, 100, 1, Limits.maxCredit);
    this.concurrency = intOption('concurrency', options.concurrency, this.prefetch, 1, Limits.maxCredit);
    intOption('visibilityMs', options.visibilityMs, 0, 1, Limits.maxVisibilityMs);
    this.visibilityMs = options.visibilityMs;
    this.nackDelayMs = intOption('nackDelayMs', options.nackDelayMs, 0, 0, Limits.maxDelayMs);
    this.ackDelayMs = intOption('ackDelayMs', options.ackDelayMs, DEFAULT_ACK_DELAY_MS, 0, MAX_ACK_DELAY_MS);
    this.onError = options.onError;
    this.slice = Math.max(16, Math.ceil(this.prefetch / 2));
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {}); // a consumer nobody awaits must not crash the process
  }

  /** @internal */
  async start(): Promise<this> {
    this.sub = await this.host.subscribe(this.prefetch, this.visibilityMs, this.onMessages, this.onEnd);
    return this;
  }

  /** Messages delivered and not yet acked or nacked (queued or in the handler). */
  get inProgress(): number {
    return this.waiting + this.running;
  }

  /**
   * Stops: unsubscribes, nacks what was delivered but not started, waits for running handlers and
   * their acks.
   */
  async close(): Promise<void> {
    if (this.closing) return this.done;
    this.closing = true;
    const sub = this.sub;
    if (sub) await sub.unsubscribe().catch((err: unknown) => this.host.logError(err, 'ferry: unsubscribe failed'));
    for (const p of this.takeBacklog()) for (let i = p.next; i < p.messages.length; i++) this.nackNow(p.messages[i]!, p.generation, 0);
    if (this.running > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.sendAcks();
    await Promise.allSettled([...this.inflight]);
    this.resolveDone();
    return this.done;
  }

  /** @internal The client is closing: stop without talking to the server. */
  abort(): void {
    this.closing = true;
    this.takeBacklog();
    this.stopAckTimer();
    this.acks = [];
    this.resolveDone();
  }

  private readonly onEnd = (err: FerryError): void => {
    this.closing = true;
    this.takeBacklog();
    this.rejectDone(err);
  };

  /** Empties the backlog; returns what it held. */
  private takeBacklog(): Pushed[] {
    this.waiting = 0;
    return this.backlog.splice(0);
  }

  private readonly onMessages = (messages: DeliveredMessage[], sub: Subscription): void => {
    this.sub ??= sub; // pushes may arrive in the same WebSocket message as the subscribe reply
    const generation = sub.generation;
    this.stats.received += messages.length;
    if (this.closing) {
      for (const message of messages) this.nackNow(message, generation, 0);
    } else if (messages.length > 0) {
      this.backlog.push({ messages, next: 0, generation });
      this.waiting += messages.length;
    }
    this.pump();
  };

  /**
   * Starts handlers while concurrency and the slice allow. A handler that settles at once calls
   * back in here: that call returns and the loop already running goes on, so a slice of
   * synchronous handlers is one loop, not a recursion as deep as the slice.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      this.startHandlers();
    } finally {
      this.pumping = false;
    }
  }

  private startHandlers(): void {
    while (this.running < this.concurrency && this.waiting > 0 && !this.closing) {
      if (this.startedInSlice >= this.slice) {
        if (!this.sliceScheduled) {
          this.sliceScheduled = true;
          setImmediate(this.nextSlice);
        }
        return;
      }
      this.startedInSlice++;
      const p = this.backlog[0]!;
      const message = p.messages[p.next++]!;
      this.waiting--;
      if (p.next === p.messages.length) this.backlog.shift();
      if (p.generation !== this.sub?.generation) {
        this.stats.stale++; // redelivered on the new socket anyway
        continue;
      }
      this.run(message, p.generation);
    }
  }

  private readonly nextSlice = (): void => {
    this.sliceScheduled = false;
    this.startedInSlice = 0;
    this.pump();
  };

  private run(message: DeliveredMessage, generation: number): void {
    this.running++;
    let result: Promise<void> | void;
    try {
      result = this.handler(message);
    } catch (err) {
      this.settle(message, generation, err, false);
      return;
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
      (result as Promise<void>).then(
        () => this.settle(message, generation, undefined, true),
        (err: unknown) => this.settle(message, generation, err, false),
      );
    } else {
      this.settle(message, generation, undefined, true);
    }
  }

  private settle(message: DeliveredMessage, generation: number, err: unknown, ok: boolean): void {
    this.running--;
    const sub = this.sub;
    const current = sub !== undefined && generation === sub.generation && this.host.connection.state === 'open';
    if (!ok) {
      try {
        this.onError?.(err, message);
      } catch (e) {
        this.host.logError(e, 'ferry: onError threw');
      }
    }
    if (!current) {
      this.stats.stale++;
    } else if (ok) {
      this.stats.acked++;
      this.acks.push(message.receipt);
      if (!this.acksQueued) {
        this.acksQueued = true;
        this.host.connection.defer(this.endOfTurnAcks);
      }
      sub.credit(1);
    } else {
      this.nackNow(message, generation, this.nackDelayMs);
      sub.credit(1);
    }
    if (this.running === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
    this.pump();
  }

  private nackNow(message: DeliveredMessage, generation: number, delayMs: number): void {
    if (this.sub === undefined || generation !== this.sub.generation || this.host.connection.state !== 'open') {
      this.stats.stale++;
      return;
    }
    this.stats.nacked++;
    const args: Record<string, unknown> = { queue: this.host.queue, receipt: message.receipt };
    if (delayMs > 0) args.delayMs = delayMs;
    this.track(this.host.connection.request('nack', args));
  }

  /**
   * At the end of a turn with acks: send them now when there are many (a busy consumer: the same
   * request as without a delay), else let them wait up to ackDelayMs for more. On the broker every
   * ack request is a shard turn whose reply waits for an fsync of its own, and at a low rate
   * (a few messages per push) each such sync costs several thread wake-ups; acks of several
   * pushes in one request share one (loadtest/analysis.md, sixth session).
   */
  private readonly endOfTurnAcks = (): void => {
    this.acksQueued = false;
    if (this.acks.length === 0) return;
    if (this.ackDelayMs === 0 || this.acks.length >= ACKS_SENT_AT_ONCE) this.sendAcks();
    else this.ackTimer ??= setTimeout(this.sendAcks, this.ackDelayMs);
  };

  private stopAckTimer(): void {
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  private readonly sendAcks = (): void => {
    this.stopAckTimer();
    const receipts = this.acks;
    this.acks = [];
    for (let i = 0; i < receipts.length; i += Limits.maxBatchEntries) {
      const chunk = receipts.length <= Limits.maxBatchEntries ? receipts : receipts.slice(i, i + Limits.maxBatchEntries);
      const packed = this.packedAcks ? packReceipts(chunk) : undefined;
      if (packed === undefined) {
        this.track(this.host.connection.request('deleteBatch', { queue: this.host.queue, receipts: chunk }));
        continue;
      }
      this.track(this.host.connection.request('deleteReceipts', { queue: this.host.queue, receipts: packed }).catch((err: unknown) => {
        if (!(err instanceof FerryError && err.code === ErrorCodes.UnknownOp)) throw err;
        // An older broker: the same acks as deleteBatch, and every later one too.
        this.packedAcks = false;
        return this.host.connection.request('deleteBatch', { queue: this.host.queue, receipts: chunk });
      }));
    }
  };

  private track(p: Promise<unknown>): void {
    const tracked = p.then(
      () => undefined,
      (err: unknown) => {
        // Stale receipts after a reconnect or a lease that ran out are expected under at-least-once.
        if (err instanceof FerryError && (err.code === ErrorCodes.ConnectionClosed || err.code === ErrorCodes.ReceiptHandleExpired)) return;
        this.host.logError(err, 'ferry: ack/nack failed');
      },
    );
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
  }
}

/**
 * Receipts back to back as deleteReceipts carries them (Limits.receiptChars ASCII bytes each), or
 * undefined when one does not have that form (then deleteBatch carries them as text). One string
 * joined and written at once: ~45 ns a receipt, against ~150-230 for a loop over each character.
 */
export function packReceipts(receipts: readonly string[]): Uint8Array | undefined {
  for (const r of receipts) if (r.length !== Limits.receiptChars) return undefined;
  const all = receipts.join('');
  // ASCII only: any other character takes more than one byte in UTF-8.
  if (Buffer.byteLength(all, 'utf8') !== all.length) return undefined;
  return Buffer.from(all, 'latin1');
}
