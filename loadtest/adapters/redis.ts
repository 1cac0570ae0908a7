/**
 * Redis Streams (ioredis), settings of shared/PEERS.md: pipelined XADD (a reply is the broker's
 * confirmation; AOF everysec, so it confirms before the disk sync), consumer groups read with
 * XREADGROUP COUNT <prefetch> BLOCK 100 and one XACK per batch, pipelined with the next read.
 */
import { Redis } from 'ioredis';
import { BrokerUnavailable, checkedIdleClient, IDLE_CONNECT_MS, withTimeout, type BrokerAdapter, type ConsumerHandle, type IdleClient, type OnBodies, type Producer } from './adapter.js';

const GROUP = 'bench';

function client(port: number): Redis {
  return new Redis({
    host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, enableOfflineQueue: true, connectTimeout: IDLE_CONNECT_MS,
  });
}

export class RedisAdapter implements BrokerAdapter {
  constructor(readonly port = 6379) {}

  readonly name = 'redis';
  version = 'unknown';
  #admin: Redis | undefined;
  #pid: number | undefined;

  async open(): Promise<void> {
    const r = client(this.port);
    r.on('error', () => undefined);
    try {
      await withTimeout('redis connect', 5000, () => r.connect());
      const info = await r.info('server');
      this.version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
      const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
      this.#pid = Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch (err) {
      r.disconnect();
      throw new BrokerUnavailable(`redis at 127.0.0.1:${this.port}: ${(err as Error).message}`, { cause: err });
    }
    this.#admin = r;
  }

  serverPids(): number[] {
    return this.#pid === undefined ? [] : [this.#pid];
  }

  async createQueues(names: readonly string[]): Promise<void> {
    const p = this.#admin!.pipeline();
    for (const q of names) {
      p.del(q);
      p.xgroup('CREATE', q, GROUP, '0', 'MKSTREAM');
    }
    await p.exec();
  }

  async deleteQueues(names: readonly string[]): Promise<void> {
    const p = this.#admin!.pipeline();
    for (const q of names) p.del(q);
    await p.exec();
  }

  async producer(): Promise<Producer> {
    const r = client(this.port);
    r.on('error', () => undefined);
    await r.connect();
    return {
      async send(queue, bodies) {
        const p = r.pipeline();
        for (const body of bodies) p.xadd(queue, '*', 'b', Buffer.from(body.buffer, body.byteOffset, body.byteLength));
        const results = await p.exec();
        for (const [err] of results ?? []) if (err) throw err;
      },
      async close() {
        r.disconnect();
      },
    };
  }

  async consumer(queue: string, prefetch: number, onBodies: OnBodies): Promise<ConsumerHandle> {
    const r = client(this.port);
    r.on('error', () => undefined);
    await r.connect();
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        const reply = (await r.xreadgroupBuffer('GROUP', GROUP, 'c', 'COUNT', prefetch, 'BLOCK', 100, 'STREAMS', queue, '>')) as
          | Array<[Buffer, Array<[Buffer, Buffer[]]>]>
          | null;
        if (reply === null) continue;
        const entries = reply[0]![1];
        if (entries.length === 0) continue;
        const bodies = entries.map(([, fields]) => fields[1]!);
        onBodies(bodies);
        // Not awaited: the XACK goes out in the same write as the next XREADGROUP, as a consumer
        // that pipelines its acks does (one round trip per batch, not two). Replies come in order,
        // so at most one XACK is unanswered; a failed one ends the loop as a failed read would.
        r.xack(queue, GROUP, ...entries.map(([id]) => id)).catch(() => {
          stopped = true;
        });
      }
    })().catch(() => undefined);
    return {
      async stop() {
        stopped = true;
        await loop;
        r.disconnect();
      },
    };
  }

  async idleClient(queue: string, _localAddress: string, signal: AbortSignal): Promise<IdleClient> {
    const r = client(this.port);
    r.on('error', () => undefined);
    // disconnect() drops the socket at once (no QUIT handshake to wait for), so close is bounded.
    const close = async (): Promise<void> => r.disconnect();
    return checkedIdleClient(signal, () => r.disconnect(), async () => {
      await r.connect();
      await r.xlen(queue);
    }, close);
  }

  async close(): Promise<void> {
    this.#admin?.disconnect();
  }
}
