/**
 * A loopback port that is free now, for a server this process is about to start (a broker, etcd).
 *
 * Picked at random below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768–60999
 * here), not by listening on port 0: a port from the ephemeral range may be taken a moment later
 * as the source port of any outgoing connection on the machine, and under a busy test run that
 * happened often enough to fail a start with EADDRINUSE. Below the range only another process
 * picking the same port in the same moment can collide; a start that still fails should pick again.
 */
import { createServer } from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;
const ATTEMPTS = 50;

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free loopback port found in ${LOW}–${HIGH} after ${ATTEMPTS} attempts`);
}
