/**
 * Client SDK against a tiny fake WebSocket server (ws): coalescing, array replies, timeouts,
 * settlement on close, reconnect + resubscribe, consume() acks/nacks/credit.
 */
import t from 'tap';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { connect, ErrorCodes, FerryError, type DeliveredMessage, type FerryClient } from '../src/client/index.js';
import { decodeFrame, encodeFrame } from '../src/protocol/codec.js';
import { backoffDelay } from '../src/client/backoff.js';
import { IDEMPOTENT_OPS, mayRepeat, mayRetry, withRetry } from '../src/client/retry.js';

interface Req {
  id: number;
  op: string;
  args: Record<string, unknown>;
}

type Handler = (req: Req, ws: WebSocket, fake: Fake) => unknown;

/** What the fake server does for each op unless a test says otherwise. */
function defaultReply(req: Req, fake: Fake): unknown {
  switch (req.op) {
    case 'subscribe':
      return { result: { sub: fake.nextSub++ } };
    case 'credit':
      return { result: { credit: req.args.credit } };
    case 'unsubscribe':
      return { result: { unsubscribed: true } };
    case 'deleteBatch':
      return { result: { results: (req.args.receipts as string[]).map(() => ({ ok: { deleted: true } })) } };
    case 'deleteReceipts':
      return { result: { deleted: (req.args.receipts as Uint8Array).byteLength / 32, gone: 0, errors: [] } };
    case 'nack':
      return { result: { visibleAt: 0 } };
    case 'send':
      return { result: { messageId: `m${req.id}`, seq: req.id } };
    default:
      return { result: { op: req.op, args: req.args } };
  }
}

class Fake {
  readonly wss: WebSocketServer;
  /** Every WebSocket message received, decoded (a frame or an array of frames). */
  readonly messages: unknown[] = [];
  readonly requests: Req[] = [];
  readonly sockets: WebSocket[] = [];
  connections = 0;
  nextSub = 1;
  handler: Handler | undefined;
  port = 0;

  constructor(wss: WebSocketServer) {
    this.wss = wss;
    wss.on('connection', (ws) => {
      this.connections++;
      this.sockets.push(ws);
      ws.on('message', (data: Buffer) => {
        const decoded = decodeFrame(data);
        this.messages.push(decoded);
        const frames = (Array.isArray(decoded) ? decoded : [decoded]) as Req[];
        const replies: unknown[] = [];
        for (const req of frames) {
          this.requests.push(req);
          const out = this.handler ? this.handler(req, ws, this) : defaultReply(req, this);
          if (out === undefined) continue; // no reply (timeout tests)
          if (Array.isArray(out)) replies.push(...(out as unknown[]));
          else replies.push({ id: req.id, ...(out as object) });
        }
        if (replies.length === 1) ws.send(encodeFrame(replies[0]));
        else if (replies.length > 1) ws.send(encodeFrame(replies));
      });
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get last(): WebSocket {
    return this.sockets[this.sockets.length - 1]!;
  }

  ops(): string[] {
    return this.requests.map((r) => r.op);
  }

  push(ws: WebSocket, frame: unknown): void {
    ws.send(encodeFrame(frame));
  }

  close(): Promise<void> {
    for (const s of this.wss.clients) s.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

async function startFake(port = 0): Promise<Fake> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const fake = new Fake(wss);
  fake.port = (wss.address() as AddressInfo).port;
  return fake;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function msg(n: number, receipt = `r${n}`): DeliveredMessage {
  return { messageId: `m${n}`, receipt, body: new Uint8Array([n]), seq: n, receiveCount: 1, sentAt: 0, firstReceivedAt: 0 };
}

async function setup(t: { teardown(fn: () => unknown): void }, opts: Parameters<typeof connect>[1] = {}): Promise<{ fake: Fake; client: FerryClient }> {
  const fake = await startFake();
  const client = await connect(fake.url, { backoff: { initialMs: 10, maxMs: 50 }, ...opts });
  t.teardown(async () => {
    await client.close();
    await fake.close();
  });
  return { fake, client };
}


t.test('requests of one turn go out as ONE WebSocket message; array replies resolve each', async (t) => {
  const { fake, client } = await setup(t);
  fake.handler = (req) => {
    // Reply to the whole array at once, in reverse order, as one array message.
    if (req.op !== 'purgeQueue') return undefined;
    const all = fake.requests.slice(-3).reverse();
    return all.map((r) => ({ id: r.id, result: { purged: Number(r.args.queue) } }));
  };
  const results = await Promise.all([client.purgeQueue('1'), client.purgeQueue('2'), client.purgeQueue('3')]);
  t.same(results, [1, 2, 3]);
  t.equal(fake.messages.length, 1, 'one WebSocket message');
  t.ok(Array.isArray(fake.messages[0]), 'holding a CBOR array');
  t.equal((fake.messages[0] as unknown[]).length, 3);
});

t.test('a lone request is a single frame; error replies become FerryError', async (t) => {
  const { fake, client } = await setup(t);
  fake.handler = (req) => ({ error: { code: 'QueueDoesNotExist', message: `no queue ${String(req.args.queue)}`, field: 'queue' } });
  const err = await client.getQueueAttributes('nope').catch((e: unknown) => e);
  t.ok(err instanceof FerryError);
  t.equal((err as FerryError).code, ErrorCodes.QueueDoesNotExist);
  t.equal((err as FerryError).field, 'queue');
  t.equal((err as FerryError).retryable, false);
  t.notOk(Array.isArray(fake.messages[0]), 'single frame, not an array');
  t.match(fake.messages[0], { op: 'getQueueAttributes', args: { queue: 'nope' } });
});

t.test('string bodies are UTF-8; typed request() results', async (t) => {
  const { fake, client } = await setup(t);
  const res = await client.queue('q').send('héllo', { delayMs: 5, attributes: { a: 'b' } });
  t.equal(res.messageId.startsWith('m'), true);
  const args = fake.requests[0]!.args;
  t.same(Buffer.from(args.body as Uint8Array).toString('utf8'), 'héllo');
  t.equal(args.delayMs, 5);
  t.same(args.attributes, { a: 'b' });
  t.equal(args.queue, 'q');
  await client.queue('q').sendBatch(['a', new Uint8Array([1, 2]), { body: 'c', delayMs: 1 }]);
  const entries = fake.requests[1]!.args.entries as { body: Uint8Array; delayMs?: number }[];
  t.same(entries.map((e) => [...e.body]), [[97], [1, 2], [99]]);
  t.equal(entries[2]!.delayMs, 1);
});

t.test('a request with no reply rejects with Timeout; receive waits waitMs on top', async (t) => {
  const { fake, client } = await setup(t, { requestTimeoutMs: 100 });
  fake.handler = (req, ws) => {
    if (req.op === 'receive') {
      setTimeout(() => ws.send(encodeFrame({ id: req.id, result: { messages: [] } })), 250);
    }
    return undefined;
  };
  const started = Date.now();
  const err = await client.purgeQueue('q').catch((e: unknown) => e);
  t.equal((err as FerryError).code, ErrorCodes.Timeout);
  t.equal((err as FerryError).retryable, true);
  t.ok(Date.now() - started < 1000);
  // 250 ms > 100 ms timeout, but waitMs 200 is added: 300 ms budget.
  const messages = await client.queue('q').receive({ waitMs: 200, max: 10 });
  t.same(messages, []);
});

t.test('timeouts of different lengths: a short one behind a long one fires on time, the long one still gets its reply', async (t) => {
  const { fake, client } = await setup(t, { requestTimeoutMs: 5_000 });
  fake.handler = (req, ws) => {
    if (req.op === 'purgeQueue' && req.args.queue === 'slow') setTimeout(() => ws.send(encodeFrame({ id: req.id, result: { purged: 7 } })), 300);
    return undefined; // 'never' gets no reply at all
  };
  let slowDone = false;
  const slow = client.purgeQueue('slow').finally(() => (slowDone = true));
  const err = await client.request('purgeQueue', { queue: 'never' }, { timeoutMs: 100 }).catch((e: unknown) => e);
  t.equal((err as FerryError).code, ErrorCodes.Timeout, 'the short request timed out');
  t.notOk(slowDone, 'before the long one was answered');
  t.equal(await slow, 7, 'the long one was not timed out with it');
});

t.test('an unexpected close settles every pending request at once with ConnectionClosed', async (t) => {
  const { fake, client } = await setup(t, { reconnect: false });
  fake.handler = () => undefined; // never reply
  const disconnected = new Promise((resolve) => client.once('disconnected', resolve));
  const p = Promise.allSettled([client.purgeQueue('a'), client.purgeQueue('b'), client.queue('q').receive({ waitMs: 20000 })]);
  await until(() => fake.requests.length === 3, 'requests');
  const started = Date.now();
  fake.last.terminate();
  const results = await p;
  t.ok(Date.now() - started < 1000, 'settled promptly');
  for (const r of results) {
    t.equal(r.status, 'rejected');
    t.equal(((r as PromiseRejectedResult).reason as FerryError).code, ErrorCodes.ConnectionClosed);
    t.equal(((r as PromiseRejectedResult).reason as FerryError).retryable, true);
  }
  await disconnected;
  t.equal(client.state, 'closed', 'reconnect: false stays closed');
  const later = await client.purgeQueue('c').catch((e: unknown) => e);
  t.equal((later as FerryError).code, ErrorCodes.ConnectionClosed);
});

t.test('close(): pending requests reject, no reconnect, socket closed', async (t) => {
  const { fake, client } = await setup(t);
  fake.handler = () => undefined;
  const p = client.purgeQueue('a').catch((e: unknown) => e);
  await until(() => fake.requests.length === 1, 'request');
  await client.close();
  t.equal(((await p) as FerryError).code, ErrorCodes.ConnectionClosed);
  t.equal(client.state, 'closed');
  await sleep(100);
  t.equal(fake.connections, 1, 'did not reconnect');
  t.equal(fake.wss.clients.size, 0, 'server sees the socket closed');
  const err = await client.createQueue('x').catch((e: unknown) => e);
  t.equal((err as FerryError).code, ErrorCodes.ConnectionClosed);
  await client.close(); // idempotent
});

t.test('reconnects after a drop; requests made while down go out on the new socket', async (t) => {
  const { fake, client } = await setup(t);
  const events: string[] = [];
  client.on('disconnected', () => events.push('disconnected'));
  client.on('reconnecting', () => events.push('reconnecting'));
  client.on('connected', (_url, reconnected) => events.push(reconnected ? 'reconnected' : 'connected'));
  fake.last.terminate();
  await until(() => client.state === 'reconnecting', 'reconnecting state');
  const res = await client.request('purgeQueue', { queue: 'q' });
  t.match(res, { op: 'purgeQueue', args: { queue: 'q' } });
  t.equal(fake.connections, 2);
  t.same(events.slice(0, 3), ['disconnected', 'reconnecting', 'reconnected']);
});

t.test('reconnect goes round robin through the URLs', async (t) => {
  const a = await startFake();
  const b = await startFake();
  const client = await connect([a.url, b.url], { backoff: { initialMs: 10, maxMs: 20 } });
  t.teardown(async () => {
    await client.close();
    await a.close();
    await b.close();
  });
  t.equal(client.url, a.url);
  await a.close(); // a is gone for good
  await until(() => client.state === 'open' && client.url === b.url, 'moved to b');
  t.equal(b.connections, 1);
  await client.purgeQueue('q');
  t.equal(b.requests.length, 1);
});

t.test('first connect tries each URL; all refused → ConnectionClosed naming them', async (t) => {
  const a = await startFake();
  const deadPort = a.port;
  await a.close();
  const err = await connect([`ws://127.0.0.1:${deadPort}/ws`]).catch((e: unknown) => e);
  t.ok(err instanceof FerryError);
  t.equal((err as FerryError).code, ErrorCodes.ConnectionClosed);
  t.match((err as FerryError).message, /cannot connect to ws:\/\/127\.0\.0\.1:\d+\/ws: .*ECONNREFUSED/);
  const b = await startFake();
  const client = await connect([`ws://127.0.0.1:${deadPort}/ws`, b.url]);
  t.equal(client.url, b.url, 'skipped the dead one');
  await client.close();
  await b.close();
});

t.test('options are validated at once, naming the option', async (t) => {
  await t.rejects(connect('http://127.0.0.1:1/ws'), { name: 'TypeError', message: /ws:\/\// });
  await t.rejects(connect([]), TypeError);
  await t.rejects(connect('ws://127.0.0.1:1/ws', { requestTimeoutMs: -1 }), { message: /requestTimeoutMs/ });
  await t.rejects(connect('ws://127.0.0.1:1/ws', { requestTimeoutMs: 1.5 }), { message: /requestTimeoutMs/ });
  await t.rejects(connect('ws://127.0.0.1:1/ws', { reconnect: 'yes' as unknown as boolean }), { message: /reconnect/ });
  await t.rejects(connect('ws://127.0.0.1:1/ws', { backoff: { jitter: 2 } }), { message: /backoff\.jitter/ });
  await t.rejects(connect('ws://127.0.0.1:1/ws', { backoff: { initialMs: 500, maxMs: 100 } }), { message: /backoff\.maxMs/ });
  await t.rejects(connect('ws://127.0.0.1:1/ws', { requestTimeoutMS: 5 } as never), { message: /unknown option "requestTimeoutMS"/ });
  await t.rejects(connect('ws://127.0.0.1:1/ws', { logger: {} as never }), { message: /logger/ });
});

t.test('backoff grows to its ceiling with jitter taken off', async (t) => {
  const b = { initialMs: 100, maxMs: 5000, jitter: 0.5 };
  t.equal(backoffDelay(0, b, () => 0), 100);
  t.equal(backoffDelay(3, b, () => 0), 800);
  t.equal(backoffDelay(20, b, () => 0), 5000);
  t.equal(backoffDelay(20, b, () => 1), 2500);
});

t.test('a reply with id null and unreadable frames surface as error events', async (t) => {
  const { fake, client } = await setup(t);
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  fake.push(fake.last, { id: null, error: { code: 'BadFrame', message: 'bad' } });
  fake.last.send(Buffer.from([0xff, 0xff, 0x00]));
  await until(() => errors.length === 2, 'two errors');
  t.equal((errors[0] as FerryError).code, ErrorCodes.BadFrame);
  t.equal((errors[1] as FerryError).code, ErrorCodes.BadFrame);
  t.equal(client.state, 'open', 'still usable');
  await client.purgeQueue('q');
});

t.test('subscribe: pushes in the same message as the reply are delivered; credit coalesces per turn', async (t) => {
  const { fake, client } = await setup(t);
  fake.handler = (req, _ws, f) => {
    if (req.op === 'subscribe') {
      const sub = f.nextSub++;
      return [{ id: req.id, result: { sub } }, { sub, messages: [msg(1), msg(2)] }];
    }
    return defaultReply(req, f);
  };
  const got: number[] = [];
  const sub = await client.queue('q').subscribe({ credit: 5, visibilityMs: 1000 }, (messages) => {
    for (const m of messages) got.push(m.seq);
  });
  t.same(got, [1, 2]);
  t.equal(sub.id, 1);
  t.match(fake.requests[0], { op: 'subscribe', args: { queue: 'q', credit: 5, visibilityMs: 1000 } });
  sub.credit(1);
  sub.credit(2);
  await until(() => fake.ops().includes('credit'), 'credit');
  await sleep(20);
  const credits = fake.requests.filter((r) => r.op === 'credit');
  t.equal(credits.length, 1, 'one credit request for the turn');
  t.same(credits[0]!.args, { sub: 1, credit: 3 });
  await sub.unsubscribe();
  t.ok(fake.ops().includes('unsubscribe'));
  t.equal(sub.closed, true);
});

t.test('after a reconnect every subscription is made again and new pushes are routed', async (t) => {
  const { fake, client } = await setup(t);
  const got: [number, number][] = [];
  const sub = await client.queue('q').subscribe({ credit: 7 }, (messages, s) => {
    for (const m of messages) got.push([m.seq, s.generation]);
  });
  t.equal(sub.id, 1);
  const firstSocket = fake.last;
  fake.push(firstSocket, { sub: 1, messages: [msg(1)] });
  await until(() => got.length === 1, 'first push');
  const gen1 = sub.generation;
  firstSocket.terminate();
  await until(() => fake.connections === 2 && sub.id === 2, 'resubscribed');
  const resub = fake.requests.filter((r) => r.op === 'subscribe');
  t.equal(resub.length, 2);
  t.same(resub[1]!.args, { queue: 'q', credit: 7 }, 'initial credit again');
  t.ok(sub.generation > gen1, 'new generation');
  fake.push(fake.last, { sub: 2, messages: [msg(2)] });
  fake.push(fake.last, { sub: 1, messages: [msg(99)] }); // old id: not ours any more
  await until(() => got.length === 2, 'second push');
  await sleep(20);
  t.same(got.map(([seq]) => seq), [1, 2]);
});

t.test('a subscription the server ends for good calls onEnd', async (t) => {
  const { fake, client } = await setup(t);
  let ended: FerryError | undefined;
  const sub = await client.queue('q').subscribe({ credit: 1, onEnd: (e) => (ended = e) }, () => {});
  fake.push(fake.last, { sub: sub.id, end: { code: 'QueueDoesNotExist', message: 'queue deleted' } });
  await until(() => ended !== undefined, 'onEnd');
  t.equal(ended!.code, ErrorCodes.QueueDoesNotExist);
  t.equal(sub.closed, true);
});

t.test('consume: resolve → one deleteBatch, throw → nack, credit back — one message per turn', async (t) => {
  const { fake, client } = await setup(t);
  const seen: number[] = [];
  const failures: unknown[] = [];
  const consumer = await client.queue('q').consume(
    async (m) => {
      seen.push(m.seq);
      if (m.seq === 2) throw new Error('boom');
    },
    // ackDelayMs 0: each turn's acks go at its end (the default lets a few acks wait for company).
    { prefetch: 10, visibilityMs: 5000, ackDelayMs: 0, onError: (e) => failures.push(e) },
  );
  t.match(fake.requests[0], { op: 'subscribe', args: { queue: 'q', credit: 10, visibilityMs: 5000 } });
  const before = fake.messages.length;
  fake.push(fake.last, { sub: 1, messages: [msg(1), msg(2), msg(3)] });
  await until(() => fake.ops().includes('credit') && fake.ops().includes('deleteBatch') && fake.ops().includes('nack'), 'acks');
  t.same(seen, [1, 2, 3]);
  t.equal(failures.length, 1);
  t.equal(fake.messages.length, before + 1, 'deleteBatch, nack and credit in ONE WebSocket message');
  const byOp = (op: string): Req => fake.requests.find((r) => r.op === op)!;
  t.same(byOp('deleteBatch').args, { queue: 'q', receipts: ['r1', 'r3'] });
  t.same(byOp('nack').args, { queue: 'q', receipt: 'r2' });
  t.same(byOp('credit').args, { sub: 1, credit: 3 });
  t.same(consumer.stats, { received: 3, acked: 2, nacked: 1, stale: 0 });
  await consumer.close();
  t.ok(fake.ops().includes('unsubscribe'));
  await consumer.done;
});

t.test('consume: a few acks wait up to ackDelayMs and share one request; 64 go at once with the credit; close() sends the waiting ones', async (t) => {
  const { fake, client } = await setup(t);
  const acked = (): string[][] => fake.requests.filter((r) => r.op === 'deleteBatch').map((r) => r.args.receipts as string[]);
  const consumer = await client.queue('q').consume(() => {}, { prefetch: 200, ackDelayMs: 1000 });
  // Two pushes of one message, the second sent once the first one's credit is back: one request acks both.
  fake.push(fake.last, { sub: 1, messages: [msg(1)] });
  await until(() => fake.ops().includes('credit'), 'credit of the first push');
  t.same(acked(), [], 'the first ack waits');
  fake.push(fake.last, { sub: 1, messages: [msg(2)] });
  await until(() => acked().length > 0, 'the acks after the delay');
  t.same(acked(), [['r1', 'r2']], 'both pushes acked in one request');

  // A turn that ends with 64 acks sends them at once, in the WebSocket message of its credit.
  const before = fake.messages.length;
  fake.push(fake.last, { sub: 1, messages: Array.from({ length: 64 }, (_, i) => msg(10 + i)) });
  await until(() => acked().length === 2, 'the 64 acks');
  const carrying = fake.messages.slice(before).find((m) => Array.isArray(m) && m.some((f) => (f as Req).op === 'deleteBatch')) as Req[] | undefined;
  t.ok(carrying?.some((f) => f.op === 'credit'), 'acks and credit in one message');
  t.equal(acked()[1]!.length, 64);

  // An ack still waiting when the consumer closes is sent by close(), not dropped.
  fake.push(fake.last, { sub: 1, messages: [msg(99)] });
  await until(() => consumer.stats.acked === 67, 'the last one handled');
  t.equal(acked().length, 2, 'it waits');
  await consumer.close();
  t.same(acked()[2], ['r99'], 'close() sent it');
  t.same(consumer.stats, { received: 67, acked: 67, nacked: 0, stale: 0 });
});

t.test('consume: ackDelayMs is validated at once', async (t) => {
  const { client } = await setup(t);
  for (const bad of [-1, 1.5, 1001, Number.NaN]) {
    await t.rejects(client.queue('q').consume(() => {}, { ackDelayMs: bad }), { name: 'TypeError', message: /ackDelayMs must be an integer from 0 to 1000/ });
  }
});

t.test('consume: receipts of 32 characters are acked packed (deleteReceipts); after UnknownOp, as deleteBatch', async (t) => {
  const { fake, client } = await setup(t);
  const receipt = (n: number): string => `${'R'.repeat(30)}${String(n).padStart(2, '0')}`;
  let unknown = false;
  fake.handler = (req, _ws, f) => (unknown && req.op === 'deleteReceipts' ? { error: { code: ErrorCodes.UnknownOp, message: 'unknown op "deleteReceipts"', field: 'op' } } : defaultReply(req, f));
  const consumer = await client.queue('q').consume(() => {}, { prefetch: 10 });
  fake.push(fake.last, { sub: 1, messages: [msg(1, receipt(1)), msg(2, receipt(2))] });
  await until(() => fake.ops().includes('deleteReceipts'), 'packed ack');
  const packed = fake.requests.find((r) => r.op === 'deleteReceipts')!.args;
  t.equal(packed.queue, 'q');
  t.equal(Buffer.from(packed.receipts as Uint8Array).toString('latin1'), receipt(1) + receipt(2), 'the receipts back to back');
  t.notOk(fake.ops().includes('deleteBatch'));

  // A broker without deleteReceipts: the same acks go again as deleteBatch, and later ones too.
  unknown = true;
  fake.push(fake.last, { sub: 1, messages: [msg(3, receipt(3))] });
  await until(() => fake.ops().includes('deleteBatch'), 'deleteBatch after UnknownOp');
  t.same(fake.requests.find((r) => r.op === 'deleteBatch')!.args, { queue: 'q', receipts: [receipt(3)] });
  const packedCount = fake.ops().filter((o) => o === 'deleteReceipts').length;
  fake.push(fake.last, { sub: 1, messages: [msg(4, receipt(4))] });
  await until(() => fake.requests.filter((r) => r.op === 'deleteBatch').length === 2, 'the next ack');
  t.same(fake.requests.filter((r) => r.op === 'deleteBatch')[1]!.args, { queue: 'q', receipts: [receipt(4)] });
  t.equal(fake.ops().filter((o) => o === 'deleteReceipts').length, packedCount, 'no deleteReceipts after UnknownOp');
  t.same(consumer.stats, { received: 4, acked: 4, nacked: 0, stale: 0 });
  await consumer.close();
});

t.test('consume: concurrency limits running handlers; close() nacks what never started', async (t) => {
  const { fake, client } = await setup(t);
  let running = 0;
  let maxRunning = 0;
  const release: (() => void)[] = [];
  const consumer = await client.queue('q').consume(
    () =>
      new Promise<void>((resolve) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        release.push(() => {
          running--;
          resolve();
        });
      }),
    { prefetch: 10, concurrency: 2 },
  );
  fake.push(fake.last, { sub: 1, messages: [msg(1), msg(2), msg(3), msg(4)] });
  await until(() => release.length === 2, 'two running');
  await sleep(20);
  t.equal(maxRunning, 2);
  t.equal(consumer.inProgress, 4);
  release.shift()!(); // message 1 done → message 3 starts
  await until(() => release.length === 2, 'third started');
  const closing = consumer.close(); // 4 never started → nack; 2 and 3 still running
  await until(() => fake.ops().includes('unsubscribe'), 'unsubscribe');
  await until(() => fake.ops().includes('nack'), 'nack of the backlog');
  for (const r of release.splice(0)) r();
  await closing;
  const deleted = fake.requests.filter((r) => r.op === 'deleteBatch').flatMap((r) => r.args.receipts as string[]);
  t.same(deleted.sort(), ['r1', 'r2', 'r3'], 'running handlers finished and were acked');
  t.same(fake.requests.filter((r) => r.op === 'nack').map((r) => r.args.receipt), ['r4']);
});

t.test('consume: pushes queue up whole and run in order, in slices; close() nacks the rest of every push in order', async (t) => {
  const { fake, client } = await setup(t);
  const seen: number[] = [];
  const consumer = await client.queue('q').consume((m) => void seen.push(m.seq), { prefetch: 100 });
  const batch = (from: number, n: number): object[] => Array.from({ length: n }, (_, i) => msg(from + i));
  // 130 synchronous handlers: slices of 50 (prefetch/2) across three pushes, one loop per slice.
  fake.push(fake.last, [{ sub: 1, messages: batch(1, 60) }, { sub: 1, messages: batch(61, 40) }, { sub: 1, messages: batch(101, 30) }]);
  await until(() => seen.length === 130, 'every message handled');
  t.same(seen, Array.from({ length: 130 }, (_, i) => i + 1), 'in push order');
  await until(() => fake.requests.filter((r) => r.op === 'deleteBatch').flatMap((r) => r.args.receipts as string[]).length === 130, 'every ack');
  t.same(consumer.stats, { received: 130, acked: 130, nacked: 0, stale: 0 });
  t.equal(consumer.inProgress, 0);

  const release: (() => void)[] = [];
  const blocked = await client.queue('q2').consume(() => new Promise<void>((resolve) => release.push(resolve)), { prefetch: 10, concurrency: 1 });
  fake.push(fake.last, [{ sub: 2, messages: [msg(1), msg(2)] }, { sub: 2, messages: [msg(3), msg(4)] }]);
  await until(() => release.length === 1, 'first running');
  t.equal(blocked.inProgress, 4);
  const closing = blocked.close();
  await until(() => fake.requests.filter((r) => r.op === 'nack').length === 3, 'the backlog nacked');
  release.shift()!();
  await closing;
  t.same(fake.requests.filter((r) => r.op === 'nack').map((r) => r.args.receipt), ['r2', 'r3', 'r4'], 'the rest of both pushes, in order');
  t.equal(blocked.inProgress, 0);
  await consumer.close();
});

t.test('consume across a reconnect: resubscribes with full prefetch, drops acks of stale receipts', async (t) => {
  const { fake, client } = await setup(t);
  const release: (() => void)[] = [];
  const seen: string[] = [];
  const consumer = await client.queue('q').consume(
    (m) => {
      seen.push(m.receipt);
      return new Promise<void>((resolve) => release.push(resolve));
    },
    { prefetch: 4 },
  );
  fake.push(fake.last, { sub: 1, messages: [msg(1, 'old1')] });
  await until(() => release.length === 1, 'handler running');
  fake.last.terminate();
  await until(() => fake.connections === 2 && fake.requests.filter((r) => r.op === 'subscribe').length === 2, 'resubscribed');
  t.same(fake.requests.filter((r) => r.op === 'subscribe')[1]!.args, { queue: 'q', credit: 4 });
  const mark = fake.requests.length;
  release.shift()!(); // the old delivery finishes after the reconnect
  await sleep(50);
  t.same(fake.requests.slice(mark).map((r) => r.op), [], 'no delete, no credit for the stale receipt');
  t.equal(consumer.stats.stale, 1);
  // The server redelivers it on the new subscription; that one is acked.
  fake.push(fake.last, { sub: 2, messages: [msg(1, 'new1')] });
  await until(() => release.length === 1, 'redelivery running');
  release.shift()!();
  await until(() => fake.ops().includes('deleteBatch'), 'ack');
  t.same(fake.requests.find((r) => r.op === 'deleteBatch')!.args, { queue: 'q', receipts: ['new1'] });
  t.same(seen, ['old1', 'new1']);
  await consumer.close();
});

t.test('client.close() stops consumers and rejects nothing that would hang', async (t) => {
  const fake = await startFake();
  t.teardown(() => fake.close());
  const client = await connect(fake.url);
  const consumer = await client.queue('q').consume(() => {});
  fake.handler = () => undefined;
  const pending = client.purgeQueue('x').catch((e: unknown) => (e as FerryError).code);
  await client.close();
  await consumer.done;
  t.equal(await pending, ErrorCodes.ConnectionClosed);
});

// ── retries (src/client/retry.ts) ──────────────────────────────────────────────

const wireError = (code: string): unknown => ({ error: { code, message: code, retryable: true } });

/** Answers `op` with `code` the first `times` times, then normally. */
function failFirst(op: string, code: string, times: number): Handler {
  let failed = 0;
  return (req, _ws, fake) => (req.op === op && failed++ < times ? wireError(code) : defaultReply(req, fake));
}

t.test('retry policy: which requests repeat after which errors', async (t) => {
  const retryable = [ErrorCodes.NotLeader, ErrorCodes.NotEnoughReplicas, ErrorCodes.PeerUnavailable, ErrorCodes.ShardUnavailable, ErrorCodes.ShuttingDown, ErrorCodes.TooManyInFlight, ErrorCodes.Timeout, ErrorCodes.ConnectionClosed];
  for (const op of IDEMPOTENT_OPS) {
    t.ok(retryable.every((c) => mayRetry(op, {}, new FerryError(c, 'x'), 'dedupId')), `${op}: every retryable code`);
    t.notOk(mayRetry(op, {}, new FerryError(ErrorCodes.QueueDoesNotExist, 'x'), 'dedupId'), `${op}: not a non-retryable one`);
  }
  const notLeader = new FerryError(ErrorCodes.NotLeader, 'x');
  for (const op of ['deleteQueue', 'purgeQueue', 'nack', 'createGroup', 'deleteGroup', 'seek', 'startRedrive', 'cancelRedrive', 'subscribe', 'credit', 'unsubscribe'] as const) {
    t.notOk(mayRetry(op, {}, notLeader, 'always'), `${op}: never`);
  }
  t.notOk(mayRetry('send', { body: 'b' }, notLeader, 'dedupId'), 'send without a dedupId: no');
  t.ok(mayRetry('send', { body: 'b', dedupId: 'd' }, notLeader, 'dedupId'), 'send with a dedupId: yes');
  t.notOk(mayRetry('send', { body: 'b', dedupId: 'd' }, notLeader, 'never'), 'sends: never');
  t.ok(mayRetry('send', { body: 'b' }, notLeader, 'always'), 'sends: always');
  t.ok(mayRetry('sendBatch', { entries: [{ body: 'a', dedupId: '1' }, { body: 'b', dedupId: '2' }] }, notLeader, 'dedupId'), 'sendBatch, every entry with a dedupId: yes');
  t.notOk(mayRetry('sendBatch', { entries: [{ body: 'a', dedupId: '1' }, { body: 'b' }] }, notLeader, 'dedupId'), 'sendBatch, one entry without: no');
  t.notOk(mayRetry('send', { body: 'b', dedupId: 'd' }, new FerryError(ErrorCodes.QueueFull, 'x'), 'always'), 'a non-retryable code never');
  // mayRepeat decides, before a request leaves, whether it takes the retry loop at all.
  t.ok(mayRepeat('receive', {}, 'never'), 'mayRepeat: an idempotent op, whatever the send policy');
  t.notOk(mayRepeat('sendBatch', { entries: [{ body: 'a' }] }, 'dedupId'), 'mayRepeat: a batch without dedup ids goes out once');
  t.ok(mayRepeat('sendBatch', { entries: [{ body: 'a' }] }, 'always'), 'mayRepeat: sends always');
  t.notOk(mayRepeat('purgeQueue', {}, 'always'), 'mayRepeat: purgeQueue never');
});

t.test('withRetry: backoff between attempts, bounded by the budget and by close', async (t) => {
  const backoff = { initialMs: 20, maxMs: 40, jitter: 0 };
  let calls = 0;
  const flaky = async (): Promise<string> => {
    if (++calls < 3) throw new FerryError(ErrorCodes.NotLeader, 'x');
    return 'ok';
  };
  t.equal(await withRetry(flaky, () => true, { budgetMs: 5000, backoff, closed: () => false }), 'ok');
  t.equal(calls, 3, 'two retries');

  calls = 0;
  const always = async (): Promise<string> => {
    calls++;
    throw new FerryError(ErrorCodes.PeerUnavailable, 'x');
  };
  const started = Date.now();
  const err = await withRetry(always, () => true, { budgetMs: 200, backoff, closed: () => false }).catch((e: unknown) => e);
  t.equal((err as FerryError).code, ErrorCodes.PeerUnavailable, 'the last error surfaces when the budget is spent');
  t.ok(Date.now() - started < 200, 'no attempt starts past the budget');
  t.ok(calls >= 3 && calls <= 7, `a bounded number of attempts (${calls})`);

  calls = 0;
  let closed = false;
  const closing = async (): Promise<string> => {
    calls++;
    closed = true;
    throw new FerryError(ErrorCodes.NotLeader, 'x');
  };
  await withRetry(closing, () => true, { budgetMs: 5000, backoff, closed: () => closed }).catch(() => undefined);
  t.equal(calls, 1, 'no retry once closed');

  calls = 0;
  await withRetry(always, () => false, { budgetMs: 5000, backoff, closed: () => false }).catch(() => undefined);
  t.equal(calls, 1, 'no retry when the policy says no');
  const plain = await withRetry(async () => {
    calls++;
    throw new TypeError('not a FerryError');
  }, () => true, { budgetMs: 5000, backoff, closed: () => false }).catch((e: unknown) => e);
  t.type(plain, TypeError, 'other errors pass through at once');
});

t.test('the client retries what the policy allows, and only that', async (t) => {
  const { fake, client } = await setup(t);
  fake.handler = failFirst('getQueueAttributes', ErrorCodes.NotLeader, 2);
  t.match(await client.getQueueAttributes('q'), { op: 'getQueueAttributes' }, 'an idempotent op succeeds after two NotLeader');
  t.equal(fake.ops().filter((o) => o === 'getQueueAttributes').length, 3, 'three attempts');

  fake.requests.length = 0;
  fake.handler = failFirst('send', ErrorCodes.NotEnoughReplicas, 1);
  const refused = await client.queue('q').send('x').catch((e: unknown) => e);
  t.equal((refused as FerryError).code, ErrorCodes.NotEnoughReplicas, 'a send without a dedupId surfaces the error');
  t.equal(fake.requests.length, 1, 'once');

  fake.requests.length = 0;
  fake.handler = failFirst('send', ErrorCodes.NotEnoughReplicas, 1);
  t.match(await client.queue('q').send('x', { dedupId: 'd1' }), { messageId: /^m/ }, 'a send with a dedupId is retried');
  t.same(fake.requests.map((r) => r.args.dedupId), ['d1', 'd1'], 'the same dedupId both times');

  fake.requests.length = 0;
  fake.handler = failFirst('purgeQueue', ErrorCodes.ShardUnavailable, 1);
  t.equal(((await client.purgeQueue('q').catch((e: unknown) => e)) as FerryError).code, ErrorCodes.ShardUnavailable, 'purgeQueue is not repeated');
});

t.test('retry: false turns retries off; bad retry options are refused', async (t) => {
  const { fake, client } = await setup(t, { retry: false });
  fake.handler = failFirst('getQueueAttributes', ErrorCodes.NotLeader, 1);
  t.equal(((await client.getQueueAttributes('q').catch((e: unknown) => e)) as FerryError).code, ErrorCodes.NotLeader);
  t.equal(fake.requests.length, 1);
  await t.rejects(connect(fake.url, { retry: { budgetMs: 0 } }), /retry.budgetMs must be an integer/);
  await t.rejects(connect(fake.url, { retry: { sends: 'sometimes' as 'always' } }), /retry.sends must be one of dedupId, always, never/);
  await t.rejects(connect(fake.url, { retry: { tries: 3 } as object }), /unknown option "retry.tries"/);
  await t.rejects(connect(fake.url, { retry: true as unknown as false }), /retry must be false or an object/);
});
