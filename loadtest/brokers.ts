/** The brokers the harness knows, by the names used on the command line and in reports. */
import { join } from 'node:path';
import type { BrokerAdapter } from './adapters/adapter.js';
import { FerryAdapter } from './adapters/ferry.js';
import { FloorAdapter } from './adapters/floor.js';
import { isFloor } from './floor-process.js';
import { NatsAdapter } from './adapters/nats.js';
import { RabbitAdapter } from './adapters/rabbitmq.js';
import { RedisAdapter } from './adapters/redis.js';

/** Ferry and the peers: the default of --brokers. The floors (FLOOR_BROKERS) run only when named. */
export const ALL_BROKERS = ['ferry', 'rabbitmq-classic', 'rabbitmq-quorum', 'nats', 'redis'];

/** Where loadtest/peers.sh keeps pid files. */
export const PEERS_DIR = process.env.FERRY_PEERS_DIR ?? '/tmp/ferry-peers';

/**
 * The adapter of `name`. `url` is Ferry's WebSocket URL, or for a floor the URL of its running
 * server (an adapter made in a worker thread); the harness's own floor adapter, which starts the
 * server, is made with launchFloor.
 */
export function makeAdapter(name: string, url: string, ferryPid: () => number | undefined, ferryVersion = 'unknown'): BrokerAdapter {
  if (isFloor(name)) return new FloorAdapter(name, url);
  switch (name) {
    case 'ferry': return new FerryAdapter(url, ferryPid, ferryVersion);
    case 'rabbitmq-classic': return new RabbitAdapter('classic', join(PEERS_DIR, 'rabbitmq.pid'));
    case 'rabbitmq-quorum': return new RabbitAdapter('quorum', join(PEERS_DIR, 'rabbitmq.pid'));
    case 'nats': return new NatsAdapter(join(PEERS_DIR, 'nats.pid'));
    case 'redis': return new RedisAdapter();
    default: throw new Error(`unknown broker ${name}`);
  }
}

/** A floor's adapter that starts its floor server when opened and stops it when closed. */
export function launchFloor(name: string): FloorAdapter {
  return new FloorAdapter(name);
}
