#!/usr/bin/env node
// `npm test` runs this first: the suite uses two Debian packages beside npm's — strace (to prove
// that a commit reaches fsync) and etcd (cluster tests). As root with apt-get (a fresh machine of
// this project, CI) it installs what is missing; otherwise it says what to install and fails.
import { execFileSync, spawnSync } from 'node:child_process';

const needed = [
  { command: 'strace', pkg: 'strace' },
  { command: 'etcd', pkg: 'etcd-server' },
];
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = needed.filter((n) => !has(n.command)).map((n) => n.pkg);
if (missing.length === 0) process.exit(0);

const root = typeof process.getuid === 'function' && process.getuid() === 0;
if (!root || !has('apt-get')) {
  console.error(`ferry tests need Debian packages: ${missing.join(' ')}\n  install them with: sudo apt-get install -y ${missing.join(' ')}`);
  process.exit(1);
}
console.error(`installing test prerequisites: ${missing.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
