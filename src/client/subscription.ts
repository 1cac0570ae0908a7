/**
 * A push subscription (low level): the server pushes up to `credit` messages, the subscriber
 * grants more with `credit(n)`.
 *
 * After a reconnect the subscription is made again on the new socket (a new server id) with its
 * initial credit; `generation` then goes up. The server released the leases of the old socket, so
 * messages delivered before come again, and their receipts are stale.
 */
import { ErrorCodes, FerryError } from '../protocol/errors.js';
import type { DeliveredMessage, OpResult } from '../protocol/ops.js';
import type { Connection } from './connection.js';

export interface SubscribeOptions {
  /** Messages the server may push before more credit is granted. 1..100000. */
  credit: number;
  /** Lease length of pushed messages; the queue's default if absent. */
  visibilityMs?: number;
  /** Stream-mode queues: the consumer group to read for (required there). */
  group?: string;
  /** Called once if the subscription ends for good (server ended it, or it could not be made again). */
  onEnd?: (err: FerryError) => void;
}

export type MessagesHandler = (messages: DeliveredMessage[], sub: Subscription) => void;

/** What a Subscription needs from its client (kept small so it can be tested alone). */
export interface SubscriptionHost {
  readonly connection: Connection;
  register(serverId: number, sub: Subscription): void;
  unregister(serverId: number, sub: Subscription): void;
  forget(sub: Subscription): void;
  retryDelayMs(): number;
  logError(err: unknown, msg: string): void;
}

export class Subscription {
  private serverId: number | undefined;
  private _generation = 0;
  private _closed = false;
  private subscribing = false;
  private pendingCredit = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly onEnd: ((err: FerryError) => void) | undefined;
  readonly credit0: number;
  readonly visibilityMs: number | undefined;
  readonly group: string | undefined;

  constructor(
    private readonly host: SubscriptionHost,
    readonly queue: string,
    options: SubscribeOptions,
    private readonly onMessages: MessagesHandler,
  ) {
    this.credit0 = options.credit;
    this.visibilityMs = options.visibilityMs;
    this.group = options.group;
    this.onEnd = options.onEnd;
  }

  /** The server's id for this subscription on the current socket; undefined while not subscribed. */
  get id(): number | undefined {
    return this.serverId;
  }

  /** Changes when the socket goes away and when the subscription is made again. Receipts of older generations are stale. */
  get generation(): number {
    return this._generation;
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Subscribed on the current socket and not closed. */
  get live(): boolean {
    return !this._closed && this.serverId !== undefined;
  }

  /** Grants `n` more messages. Grants of one turn go out as one `credit` request; dropped while not live. */
  credit(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`credit must be a positive integer, got ${String(n)}`);
    if (!this.live) return;
    const first = this.pendingCredit === 0;
    this.pendingCredit += n;
    if (first) this.host.connection.defer(this.flushCredit);
  }

  private readonly flushCredit = (): void => {
    const credit = this.pendingCredit;
    this.pendingCredit = 0;
    if (credit === 0 || !this.live) return;
    this.host.connection.request('credit', { sub: this.serverId, credit }).catch((err: unknown) => {
      if (err instanceof FerryError && (err.code === ErrorCodes.ConnectionClosed || err.code === ErrorCodes.UnknownSubscription)) return;
      this.host.logError(err, 'ferry: credit failed');
    });
  };

  /** Ends the subscription. Messages already on their way may still arrive until this resolves. */
  async unsubscribe(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    this.clearRetry();
    this.host.forget(this);
    const id = this.serverId;
    if (id === undefined || this.host.connection.state !== 'open') return;
    try {
      await this.host.connection.request('unsubscribe', { sub: id });
    } catch (err) {
      if (!(err instanceof FerryError) || (err.code !== ErrorCodes.ConnectionClosed && err.code !== ErrorCodes.UnknownSubscription)) throw err;
    } finally {
      this.serverId = undefined;
      this.host.unregister(id, this);
    }
  }

  /** @internal Makes the subscription on the current socket. Resolves when done; rejects only on the first attempt. */
  subscribe(first: boolean): Promise<void> {
    if (this._closed || this.subscribing) return Promise.resolve();
    this.subscribing = true;
    const args: Record<string, unknown> = { queue: this.queue, credit: this.credit0 };
    if (this.visibilityMs !== undefined) args.visibilityMs = this.visibilityMs;
    if (this.group !== undefined) args.group = this.group;
    const conn = this.host.connection;
    return conn
      .request('subscribe', args, {
        // Synchronous: pushes may follow the reply in the same WebSocket message.
        onResult: (result) => {
          const id = (result as OpResult<'subscribe'>).sub;
          this.subscribing = false;
          if (this._closed) {
            conn.request('unsubscribe', { sub: id }).catch(() => {});
            return;
          }
          this.serverId = id;
          this._generation++;
          this.pendingCredit = 0;
          this.host.register(id, this);
        },
      })
      .then(
        () => undefined,
        (err: unknown) => {
          this.subscribing = false;
          if (first) {
            this._closed = true;
            this.host.forget(this);
            throw err;
          }
          this.onSubscribeFailed(err);
        },
      );
  }

  /** @internal The socket went away: the server id is void. */
  detach(): void {
    this.serverId = undefined;
    this._generation++; // receipts of the old socket are stale from now on
    this.pendingCredit = 0;
    this.subscribing = false;
    this.clearRetry();
  }

  /** @internal A push for this subscription. */
  deliver(messages: DeliveredMessage[]): void {
    try {
      this.onMessages(messages, this);
    } catch (err) {
      this.host.logError(err, 'ferry: subscription handler threw');
    }
  }

  /** @internal The server ended the subscription. Transient causes subscribe again; others end it. */
  ended(err: FerryError): void {
    this.serverId = undefined;
    this.pendingCredit = 0;
    if (this._closed) return;
    if (err.retryable) this.retryLater();
    else this.end(err);
  }

  /** @internal Ends it without talking to the server (client closing). */
  abort(err: FerryError): void {
    if (this._closed) return;
    this.detach();
    this.end(err);
  }

  private onSubscribeFailed(err: unknown): void {
    if (this._closed) return;
    const ferr = err instanceof FerryError ? err : new FerryError(ErrorCodes.Internal, String(err));
    if (ferr.code === ErrorCodes.ConnectionClosed) return; // the next socket subscribes again
    if (ferr.retryable) this.retryLater();
    else this.end(ferr);
  }

  private retryLater(): void {
    if (this.retryTimer || this._closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.host.connection.state === 'open') void this.subscribe(false);
    }, this.host.retryDelayMs());
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private end(err: FerryError): void {
    this._closed = true;
    this.clearRetry();
    this.host.forget(this);
    try {
      this.onEnd?.(err);
    } catch (e) {
      this.host.logError(e, 'ferry: onEnd threw');
    }
  }
}
