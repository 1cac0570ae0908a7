/**
 * RabbitMQ over AMQP 0-9-1 (amqplib), settings of shared/PEERS.md: durable queues (classic or
 * quorum), persistent messages on a confirm channel, consumers with prefetch and one ack per message.
 */
import amqp from 'amqplib';
import { BrokerUnavailable, checkedIdleClient, closeOrDestroy, IDLE_CONNECT_MS, pidFromFile, withTimeout, type BrokerAdapter, type ConsumerHandle, type IdleClient, type OnBodies, type Producer } from './adapter.js';

const URL = 'amqp://guest:guest@127.0.0.1:5672';

/** amqplib keeps the socket private; destroying it is the only bounded way out of a peer that stopped answering. */
function socketOf(conn: amqp.ChannelModel): { destroy(): void } | undefined {
  return (conn.connection as unknown as { stream?: { destroy(): void } }).stream;
}

export class RabbitAdapter implements BrokerAdapter {
  readonly name: string;
  version = 'unknown';
  #admin: amqp.ChannelModel | undefined;
  #pid: number | undefined;

  constructor(readonly queueType: 'classic' | 'quorum', readonly pidFile: string, readonly url = URL) {
    this.name = `rabbitmq-${queueType}`;
  }

  async open(): Promise<void> {
    try {
      this.#admin = await withTimeout('rabbitmq connect', 5000, () => amqp.connect(this.url));
    } catch (err) {
      throw new BrokerUnavailable(`rabbitmq at 127.0.0.1:5672: ${(err as Error).message}`, { cause: err });
    }
    this.#admin.on('error', () => undefined);
    this.version = String(this.#admin.connection.serverProperties.version ?? 'unknown');
    this.#pid = await pidFromFile(this.pidFile);
  }

  serverPids(): number[] {
    return this.#pid === undefined ? [] : [this.#pid];
  }

  async createQueues(names: readonly string[]): Promise<void> {
    const ch = await this.#admin!.createChannel();
    for (const q of names) await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': this.queueType } });
    await ch.close();
  }

  async deleteQueues(names: readonly string[]): Promise<void> {
    const ch = await this.#admin!.createChannel();
    for (const q of names) await ch.deleteQueue(q);
    await ch.close();
  }

  async producer(): Promise<Producer> {
    const conn = await amqp.connect(this.url);
    conn.on('error', () => undefined);
    const ch = await conn.createConfirmChannel();
    return {
      send(queue, bodies) {
        return new Promise<void>((resolve, reject) => {
          let left = bodies.length;
          for (const body of bodies) {
            ch.sendToQueue(queue, Buffer.from(body.buffer, body.byteOffset, body.byteLength), { persistent: true }, (err: unknown) => {
              if (err) reject(err instanceof Error ? err : new Error(`nacked: ${String(err)}`));
              else if (--left === 0) resolve();
            });
          }
        });
      },
      async close() {
        await conn.close();
      },
    };
  }

  async consumer(queue: string, prefetch: number, onBodies: OnBodies): Promise<ConsumerHandle> {
    const conn = await amqp.connect(this.url);
    conn.on('error', () => undefined);
    const ch = await conn.createChannel();
    await ch.prefetch(prefetch);
    const one: Uint8Array[] = [];
    const { consumerTag } = await ch.consume(queue, (msg) => {
      if (msg === null) return;
      one[0] = msg.content;
      onBodies(one);
      ch.ack(msg);
    }, { noAck: false });
    return {
      async stop() {
        await ch.cancel(consumerTag).catch(() => undefined);
        await conn.close().catch(() => undefined);
      },
    };
  }

  async idleClient(queue: string, _localAddress: string, signal: AbortSignal): Promise<IdleClient> {
    // amqplib's timeout covers the TCP connect and the AMQP handshake (a broker that accepts and
    // stays silent fails here); the signal covers the rest.
    const conn = await amqp.connect(this.url, { timeout: IDLE_CONNECT_MS });
    conn.on('error', () => undefined);
    const destroy = (): void => socketOf(conn)?.destroy();
    const close = (): Promise<void> => closeOrDestroy(() => conn.close(), destroy);
    return checkedIdleClient(signal, destroy, async () => {
      const ch = await conn.createChannel();
      await ch.checkQueue(queue);
    }, close);
  }

  async close(): Promise<void> {
    await this.#admin?.close().catch(() => undefined);
  }
}
