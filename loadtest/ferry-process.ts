/**
 * The Ferry broker the harness measures: a BrokerProcess (test/helpers/broker.ts: `node
 * dist/src/cli/main.js server` on a free loopback port over a temporary data directory), stopped
 * and removed at the end. FERRY_BENCH_NODE_ARGS adds node flags (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { BrokerProcess } from '../test/helpers/broker.js';
import { benchNodeArgs } from './node-args.js';

/** How long a SIGTERM may take (a --cpu-prof profile is written at exit) before SIGKILL. */
const STOP_GRACE_MS = 15_000;

export class FerryProcess {
  #broker: BrokerProcess;

  constructor(readonly shards: number) {
    this.#broker = this.#newBroker();
  }

  #newBroker(port?: number): BrokerProcess {
    return new BrokerProcess({ shards: this.shards, nodeArgs: benchNodeArgs(), ...(port === undefined ? {} : { port }) });
  }

  get url(): string {
    return this.#broker.url;
  }

  get httpUrl(): string {
    return this.#broker.httpUrl;
  }

  get pid(): number | undefined {
    return this.#broker.pid;
  }

  async start(readyTimeoutMs = 30_000): Promise<void> {
    await this.#broker.start(readyTimeoutMs);
  }

  /** A new broker on the same port over a new, empty data directory (a memory scenario measures it from its start). */
  async restart(): Promise<void> {
    const port = this.#broker.port;
    await this.stop();
    this.#broker = this.#newBroker(port);
    await this.start();
  }

  /**
   * Stops the broker (SIGTERM) and starts it again over the same data directory and port: what
   * it holds must come back from disk. Resolves with the seconds from the new process's spawn to
   * its ready line (node start-up plus recovery), bounded by `readyTimeoutMs`.
   */
  async restartInPlace(readyTimeoutMs: number): Promise<{ readySeconds: number }> {
    await this.#broker.stop('SIGTERM', STOP_GRACE_MS);
    const t0 = performance.now();
    await this.#broker.start(readyTimeoutMs);
    return { readySeconds: (performance.now() - t0) / 1000 };
  }

  /** SIGTERM (so --cpu-prof writes its profile), SIGKILL after STOP_GRACE_MS; then the data directory goes. */
  async stop(): Promise<void> {
    await this.#broker.stop('SIGTERM', STOP_GRACE_MS);
    await this.#broker.cleanup();
  }
}
