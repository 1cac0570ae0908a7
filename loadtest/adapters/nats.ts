/**
 * NATS JetStream (nats.js), settings of shared/PEERS.md: one stream per queue with file storage,
 * 1 replica, work-queue retention; publish awaits the PubAck (nats-server 2.9 acks before the disk
 * sync); a durable pull consumer with explicit ack and max_ack_pending = prefetch.
 */
import { connect as netConnect } from 'node:net';
import { AckPolicy, connect, RetentionPolicy, StorageType, type JetStreamManager, type NatsConnection } from 'nats';
import { BrokerUnavailable, checkedIdleClient, closeOrDestroy, IDLE_CONNECT_MS, pidFromFile, withTimeout, type BrokerAdapter, type ConsumerHandle, type IdleClient, type OnBodies, type Producer } from './adapter.js';

const SERVER = '127.0.0.1:4222';

/** Resolves once `server` (host:port) sends its INFO line on a fresh connection, which is then closed; rejects on abort or error. */
function greeted(server: string, signal: AbortSignal): Promise<void> {
  const [host, port] = server.split(':');
  return new Promise<void>((resolve, reject) => {
    const socket = netConnect(Number(port), host!);
    const done = (err?: Error): void => {
      socket.destroy();
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onAbort = (): void => done(new Error('aborted before the server said INFO'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    let seen = '';
    socket.on('data', (b: Buffer) => {
      seen += b.toString('latin1');
      if (seen.includes('\n')) done(seen.startsWith('INFO ') ? undefined : new Error(`not a NATS server: ${seen.slice(0, 40)}`));
    });
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error('closed before the server said INFO')));
  });
}

export class NatsAdapter implements BrokerAdapter {
  readonly name = 'nats';
  version = 'unknown';
  #admin: NatsConnection | undefined;
  #jsm: JetStreamManager | undefined;
  #pid: number | undefined;

  constructor(readonly pidFile: string, readonly server = SERVER) {}

  async open(): Promise<void> {
    try {
      this.#admin = await withTimeout('nats connect', 5000, () => connect({ servers: this.server, reconnect: false }));
      this.#jsm = await withTimeout('jetstream', 5000, () => this.#admin!.jetstreamManager());
    } catch (err) {
      await this.#admin?.close().catch(() => undefined);
      throw new BrokerUnavailable(`nats at ${this.server}: ${(err as Error).message}`, { cause: err });
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
    const nc = await connect({ servers: this.server, reconnect: false });
    const js = nc.jetstream();
    return {
      async send(queue, bodies) {
        await Promise.all(bodies.map((b) => js.publish(queue, b, { timeout: 60_000 })));
      },
      close: () => nc.close(),
    };
  }

  async consumer(queue: string, prefetch: number, onBodies: OnBodies): Promise<ConsumerHandle> {
    const nc = await connect({ servers: this.server, reconnect: false });
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

  async idleClient(queue: string, _localAddress: string, signal: AbortSignal): Promise<IdleClient> {
    // nats.js gives up on a server that accepts and never sends INFO (its `timeout`) but leaves
    // that socket open (2.29): greet the server first with a socket of our own, which we close.
    await greeted(this.server, signal);
    const nc = await connect({ servers: this.server, reconnect: false, timeout: IDLE_CONNECT_MS });
    const close = (): Promise<void> => closeOrDestroy(() => nc.close(), () => void nc.close().catch(() => undefined));
    return checkedIdleClient(signal, () => void nc.close().catch(() => undefined), () => nc.jetstreamManager().then((jsm) => jsm.streams.info(queue)), close);
  }

  async close(): Promise<void> {
    await this.#admin?.close().catch(() => undefined);
  }
}
