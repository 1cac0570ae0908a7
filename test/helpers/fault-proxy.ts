/**
 * A fault-injecting TCP proxy for partition tests: listens on a loopback address and forwards to a
 * target. `cut(from?)` drops every connection (or those from one source address) and refuses new
 * ones until `heal()`. Nodes bind their outgoing peer links to their own address
 * (127.0.0.X), so a proxy in front of a node can cut one peer and not the others.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class FaultProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  /** Undefined: nothing cut. Empty set: everything cut. Otherwise the cut source addresses. */
  #cut: Set<string> | undefined;
  port = 0;

  constructor(readonly host: string, readonly targetHost: string, readonly targetPort: number) {
    this.#server = createServer((client) => this.#accept(client));
  }

  #isCut(address: string | undefined): boolean {
    if (this.#cut === undefined) return false;
    if (this.#cut.size === 0) return true;
    return address !== undefined && this.#cut.has(address.replace(/^::ffff:/, ''));
  }

  #accept(client: Socket): void {
    if (this.#isCut(client.remoteAddress)) {
      client.destroy();
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, this.host, () => {
        this.port = (this.#server.address() as { port: number }).port;
        resolve(this.port);
      });
    });
  }

  /** Cuts everything, or only connections from these source addresses. */
  cut(...from: string[]): void {
    this.#cut = new Set(from);
    for (const pair of [...this.#pairs]) {
      if (this.#isCut(pair[0].remoteAddress)) {
        pair[0].destroy();
        pair[1].destroy();
        this.#pairs.delete(pair);
      }
    }
  }

  heal(): void {
    this.#cut = undefined;
  }

  close(): Promise<void> {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
