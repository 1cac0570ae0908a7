/**
 * A real etcd server for cluster tests: /usr/bin/etcd (Debian's etcd-server) on two free loopback
 * ports with a temporary data directory, stopped and removed at teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../loadtest/free-port.js';

export interface EtcdProcess {
  /** Client URL, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  stop(): Promise<void>;
}

const ETCD_BIN = process.env.FERRY_ETCD_BIN ?? '/usr/bin/etcd';

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) });
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/** Starts etcd on two free ports; picks new ones if another process took one first (bounded). */
export async function startEtcd(t: { teardown(fn: () => unknown): void }, readyTimeoutMs = 15_000): Promise<EtcdProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchEtcd(t, readyTimeoutMs);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt >= 3) throw err;
    }
  }
}

class PortTaken extends Error {
  override name = 'PortTaken';
}

async function launchEtcd(t: { teardown(fn: () => unknown): void }, readyTimeoutMs: number): Promise<EtcdProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let output = '';
  const proc: ChildProcess = spawn(ETCD_BIN, [
    '--name', 't', '--data-dir', dir,
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `t=${peer}`,
    '--log-level', 'warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await healthy(url))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      const message = `etcd did not become healthy at ${url}:\n${output.slice(-3000)}`;
      throw output.includes('address already in use') ? new PortTaken(message) : new Error(message);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop };
}
