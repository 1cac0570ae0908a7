/**
 * NATS JetStream (nats.js), settings of shared/PEERS.md: one stream per queue with file storage,
 * 1 replica, work-queue retention; publish awaits the PubAck (nats-server 2.9 acks before the disk
 * sync); a durable pull consumer with explicit ack and max_ack_pending = prefetch.
 */
import { AckPolicy, connect, RetentionPolicy, StorageType, type JetStreamManager, type NatsConnection } from 'nats';
import { BrokerUnavailable, pidFromFile, withTimeout, type BrokerAdapter, type ConsumerHandle, type IdleClient, type OnBodies, type Producer } from './adapter.js';

const SERVER = '127.0.0.1:4222';

export class NatsAdapter implements BrokerAdapter {
  readonly name = 'nats';
  version = 'unknown';
  #admin: NatsConnection | undefined;
  #jsm: JetStreamManager | undefined;
  #pid: number | undefined;

  constructor(readonly pidFile: string) {}

  async open(): Promise<void> {
    try {
      this.#admin = await withTimeout('nats connect', 5000, () => connect({ servers: SERVER, reconnect: false }));
      this.#jsm = await withTimeout('jetstream', 5000, () => this.#admin!.jetstreamManager());
    } catch (err) {
      await this.#admin?.close().catch(() => undefined);
      throw new BrokerUnavailable(`nats at ${SERVER}: ${(err as Error).message}`, { cause: err });
    }
    this.version = this.#admin.info?.version ?? 'unknown';
    this.#pid = await pidFromFile(this.pidFile);
  }

  serverPids(): number[] {
    return this.#pid === undefined ? [] : [this.#pid];
  }

  async createQueues(names: readonly string[]): Promise<void> {
    for (const q of names) {
      await this.#jsm!.streams.delete(q).catch(() => undefined);
      await this.#jsm!.streams.add({ name: q, subjects: [q], storage: StorageType.File, num_replicas: 1, retention: RetentionPolicy.Workqueue });
    }
  }

  async deleteQueues(names: readonly string[]): Promise<void> {
    for (const q of names) await this.#jsm!.streams.delete(q).catch(() => undefined);
  }

  async producer(): Promise<Producer> {
    const nc = await connect({ servers: SERVER, reconnect: false });
    const js = nc.jetstream();
    return {
      async send(queue, bodies) {
        await Promise.all(bodies.map((b) => js.publish(queue, b, { timeout: 60_000 })));
      },
      close: () => nc.close(),
    };
  }

  async consumer(queue: string, prefetch: number, onBodies: OnBodies): Promise<ConsumerHandle> {
    const nc = await connect({ servers: SERVER, reconnect: false });
    const durable = 'bench';
    await this.#jsm!.consumers.add(queue, { durable_name: durable, ack_policy: AckPolicy.Explicit, max_ack_pending: prefetch });
    const consumer = await nc.jetstream().consumers.get(queue, durable);
    const messages = await consumer.consume({ max_messages: prefetch });
    const one: Uint8Array[] = [];
    const loop = (async () => {
      for await (const m of messages) {
        one[0] = m.data;
        onBodies(one);
        m.ack();
      }
    })().catch(() => undefined);
    return {
      async stop() {
        messages.stop();
        await loop;
        await nc.close();
      },
    };
  }

  async idleClient(queue: string): Promise<IdleClient> {
    const nc = await connect({ servers: SERVER, reconnect: false });
    await nc.jetstreamManager().then((jsm) => jsm.streams.info(queue));
    return { close: () => nc.close().catch(() => undefined) };
  }

  async close(): Promise<void> {
    await this.#admin?.close().catch(() => undefined);
  }
}
