/** The brokers the harness knows, by the names used on the command line and in reports. */
import { join } from 'node:path';
import type { BrokerAdapter } from './adapters/adapter.js';
import { FerryAdapter } from './adapters/ferry.js';
import { NatsAdapter } from './adapters/nats.js';
import { RabbitAdapter } from './adapters/rabbitmq.js';
import { RedisAdapter } from './adapters/redis.js';

export const ALL_BROKERS = ['ferry', 'rabbitmq-classic', 'rabbitmq-quorum', 'nats', 'redis'];

/** Where loadtest/peers.sh keeps pid files. */
export const PEERS_DIR = process.env.FERRY_PEERS_DIR ?? '/tmp/ferry-peers';

export function makeAdapter(name: string, ferryUrl: string, ferryPid: () => number | undefined, ferryVersion = 'unknown'): BrokerAdapter {
  switch (name) {
    case 'ferry': return new FerryAdapter(ferryUrl, ferryPid, ferryVersion);
    case 'rabbitmq-classic': return new RabbitAdapter('classic', join(PEERS_DIR, 'rabbitmq.pid'));
    case 'rabbitmq-quorum': return new RabbitAdapter('quorum', join(PEERS_DIR, 'rabbitmq.pid'));
    case 'nats': return new NatsAdapter(join(PEERS_DIR, 'nats.pid'));
    case 'redis': return new RedisAdapter();
    default: throw new Error(`unknown broker ${name}`);
  }
}
