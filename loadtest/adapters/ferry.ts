/** Ferry through its own SDK: sendBatch for publishing, consume() (push + batched deletes) for consuming. */
import WebSocket from 'ws';
import { connect, type FerryClient } from '../../src/client/index.js';
import { decodeFrame, encodeFrame } from '../../src/protocol/codec.js';
import { BrokerUnavailable, checkedIdleClient, IDLE_CONNECT_MS, Unsupported, type BrokerAdapter, type ConsumerHandle, type IdleClient, type OnBodies, type Producer, type QueueOptions } from './adapter.js';

export class FerryAdapter implements BrokerAdapter {
  readonly name = 'ferry';
  version = 'unknown';
  #admin: FerryClient | undefined;

  constructor(
    readonly url: string,
    readonly pid: () => number | undefined,
    version: string,
  ) {
    this.version = version;
  }

  async open(): Promise<void> {
    try {
      this.#admin = await connect(this.url, { reconnect: false });
    } catch (err) {
      throw new BrokerUnavailable(`ferry at ${this.url}: ${(err as Error).message}`, { cause: err });
    }
  }

  serverPids(): number[] {
    const pid = this.pid();
    return pid === undefined ? [] : [pid];
  }

  async createQueues(names: readonly string[], opts: QueueOptions = {}): Promise<void> {
    const admin = this.#admin!;
    for (let i = 0; i < names.length; i += 500) {
      await Promise.all(names.slice(i, i + 500).map(async (name) => {
        try {
          // `ordering` is not in the core attribute type yet: the cast lets an older broker refuse it.
          await admin.createQueue(name, opts.strict ? ({ ordering: 'strict' } as unknown as Record<string, never>) : undefined);
        } catch (err) {
          if (opts.strict) throw new Unsupported(`createQueue with ordering=strict was refused: ${(err as Error).message}`, { cause: err });
          throw err;
        }
      }));
    }
  }

  async deleteQueues(names: readonly string[]): Promise<void> {
    const admin = this.#admin!;
    for (let i = 0; i < names.length; i += 500) {
      await Promise.all(names.slice(i, i + 500).map((n) => admin.deleteQueue(n).catch(() => undefined)));
    }
  }

  async producer(): Promise<Producer> {
    const client = await connect(this.url, { reconnect: false });
    return {
      async send(queue, bodies) {
        const results = await client.queue(queue).sendBatch(bodies as Uint8Array[]);
        for (const r of results) if ('error' in r) throw new Error(`sendBatch entry failed: ${r.error.code} ${r.error.message}`);
      },
      close: () => client.close(),
    };
  }

  async consumer(queue: string, prefetch: number, onBodies: OnBodies): Promise<ConsumerHandle> {
    const client = await connect(this.url, { reconnect: false });
    const one: Uint8Array[] = [];
    const consumer = await client.queue(queue).consume((m) => {
      one[0] = m.body;
      onBodies(one);
    }, { prefetch });
    return {
      async stop() {
        await consumer.close();
        await client.close();
      },
    };
  }

  /**
   * A bare WebSocket (the SDK cannot choose its source address; 10,000 connections from one
   * address would be near the loopback's ephemeral ports): one getQueueAttributes, then idle. It
   * answers the server's pings (ws does), so the server's idle timeout does not close it.
   */
  async idleClient(queue: string, localAddress: string, signal: AbortSignal): Promise<IdleClient> {
    const ws = new WebSocket(this.url, { perMessageDeflate: false, localAddress, handshakeTimeout: IDLE_CONNECT_MS });
    ws.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const close = async (): Promise<void> => {
      if (ws.readyState !== WebSocket.CLOSED) {
        ws.close();
        const t = setTimeout(() => ws.terminate(), 2000);
        await closed;
        clearTimeout(t);
      }
    };
    return checkedIdleClient(signal, () => ws.terminate(), async () => {
      const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
        ws.once('open', () => ws.send(encodeFrame({ id: 1, op: 'getQueueAttributes', args: { queue } })));
        ws.once('message', (data: Buffer) => resolve(decodeFrame(new Uint8Array(data)) as Record<string, unknown>));
        ws.once('error', reject);
        void closed.then(() => reject(new Error('closed before the reply')));
      });
      if (reply.error !== undefined) throw new Error(`getQueueAttributes failed: ${JSON.stringify(reply.error)}`);
    }, close);
  }

  /** The admin client, for scenarios that use Ferry-only features. */
  get admin(): FerryClient {
    return this.#admin!;
  }

  async close(): Promise<void> {
    await this.#admin?.close();
  }
}
