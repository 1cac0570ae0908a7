/**
 * SQS scenario: producers SendMessageBatch (10 × 256 B) and consumers ReceiveMessage (10, long
 * poll) + DeleteMessageBatch, all through the real AWS SDK against a Ferry broker over loopback.
 * Bounded in time and count. Prints one JSON line per phase and a summary table.
 *
 *   npm run bench:sqs -- [--clients 16] [--seconds 10] [--shards 2] [--url http://127.0.0.1:7700]
 *
 * Without --url it starts its own broker (dist/, temporary data directory, removed at the end).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateQueueCommand, DeleteMessageBatchCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { freePort } from './free-port.js';

interface Options {
  clients: number;
  seconds: number;
  shards: number;
  url: string | undefined;
  maxMessages: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { clients: 16, seconds: 10, shards: 2, url: undefined, maxMessages: 2_000_000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--clients') o.clients = Number(v);
    else if (k === '--seconds') o.seconds = Number(v);
    else if (k === '--shards') o.shards = Number(v);
    else if (k === '--url') o.url = v;
    else if (k === '--max-messages') o.maxMessages = Number(v);
    else throw new Error(`unknown option ${k}`);
  }
  for (const k of ['clients', 'seconds', 'shards', 'maxMessages'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k} must be a positive integer`);
  }
  return o;
}

async function startBroker(shards: number): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-sqs-bench-'));
  const port = await freePort();
  const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const proc: ChildProcess = spawn(process.execPath, [main, 'server', '--port', String(port), '--data-dir', dir, '--shards', String(shards), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('broker not ready within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Phase {
  phase: string;
  clients: number;
  messages: number;
  seconds: number;
  perSecond: number;
  callP50Ms: number;
  callP99Ms: number;
}

function summarize(phase: string, clients: number, messages: number, ms: number, calls: number[]): Phase {
  calls.sort((a, b) => a - b);
  return {
    phase, clients, messages, seconds: +(ms / 1000).toFixed(2), perSecond: Math.round(messages / (ms / 1000)),
    callP50Ms: +percentile(calls, 50).toFixed(2), callP99Ms: +percentile(calls, 99).toFixed(2),
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const broker = o.url === undefined ? await startBroker(o.shards) : { url: o.url, stop: async () => undefined };
  const clients = Array.from({ length: o.clients }, () => new SQSClient({
    endpoint: broker.url, region: 'us-east-1', maxAttempts: 3, credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  }));
  const body = 'x'.repeat(256);
  const results: Phase[] = [];
  try {
    const queueUrl = (await clients[0]!.send(new CreateQueueCommand({ QueueName: `sqs-bench-${Date.now()}` }))).QueueUrl!;

    // Phase 1: durable sends, 10 per SendMessageBatch.
    let sent = 0;
    const sendCalls: number[] = [];
    const sendEnd = Date.now() + o.seconds * 1000;
    const t0 = performance.now();
    await Promise.all(clients.map(async (c, ci) => {
      for (let n = 0; Date.now() < sendEnd && sent < o.maxMessages; n++) {
        const s = performance.now();
        const r = await c.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `c${ci}n${n}i${i}`, MessageBody: body })) }));
        sendCalls.push(performance.now() - s);
        sent += r.Successful?.length ?? 0;
      }
    }));
    results.push(summarize('SendMessageBatch', o.clients, sent, performance.now() - t0, sendCalls));

    // Phase 2: receive (10 at a time) + DeleteMessageBatch until everything sent is consumed, bounded in time.
    let consumed = 0;
    const recvCalls: number[] = [];
    const recvEnd = Date.now() + Math.max(o.seconds * 3, 30) * 1000;
    const t1 = performance.now();
    await Promise.all(clients.map(async (c) => {
      while (consumed < sent && Date.now() < recvEnd) {
        const s = performance.now();
        const got = await c.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        const msgs = got.Messages ?? [];
        if (msgs.length > 0) {
          await c.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
          consumed += msgs.length;
        }
        recvCalls.push(performance.now() - s);
      }
    }));
    results.push(summarize('ReceiveMessage+DeleteMessageBatch', o.clients, consumed, performance.now() - t1, recvCalls));
    await clients[0]!.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  } finally {
    for (const c of clients) c.destroy();
    await broker.stop();
  }
  for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
  process.stdout.write('\n| phase | clients | messages | msgs/s | call p50 ms | call p99 ms |\n|---|---|---|---|---|---|\n');
  for (const r of results) process.stdout.write(`| ${r.phase} | ${r.clients} | ${r.messages} | ${r.perSecond} | ${r.callP50Ms} | ${r.callP99Ms} |\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`sqs-bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
