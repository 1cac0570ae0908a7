/** Ferry through its own SDK: sendBatch for publishing, consume() (push + batched deletes) for consuming. */
import { connect, type FerryClient } from '../../src/client/index.js';
import { BrokerUnavailable, Unsupported, type BrokerAdapter, type ConsumerHandle, type OnBodies, type Producer, type QueueOptions } from './adapter.js';

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

  /** The admin client, for scenarios that use Ferry-only features. */
  get admin(): FerryClient {
    return this.#admin!;
  }

  async close(): Promise<void> {
    await this.#admin?.close();
  }
}
