// deleteReceipts: deleteBatch with the receipts packed in one byte string (32 ASCII bytes each),
// answered in counts. Real broker process over a raw WebSocket: good batches (queue and stream
// mode), a batch with bad entries (each its error, by index), and bad requests, each with its
// stable code and the field, after which the same socket still serves.
import t, { type Test } from 'tap';
import { startBroker } from './helpers/broker.js';
import { RawSocket } from './helpers/raw-socket.js';
import { ErrorCodes, type ErrorCode } from '../src/protocol/errors.js';
import { Limits } from '../src/protocol/limits.js';
import { decodeReceipt, encodeReceipt, readReceipt, readReceiptBytes } from '../src/actors/receipt.js';
import { packReceipts } from '../src/client/consumer.js';
import type { DeleteReceiptsResult, DeliveredMessage } from '../src/protocol/ops.js';

type Received = { messages: DeliveredMessage[] };

function pack(receipts: readonly string[]): Uint8Array {
  return Buffer.from(receipts.join(''), 'latin1');
}

const broker = await startBroker(t);
const s = await RawSocket.open(broker.url);
t.teardown(() => s.close());

await s.ok('createQueue', { queue: 'dr' });
await s.ok('createQueue', { queue: 'dr-other' });

t.test('readReceiptBytes reads what readReceipt reads, and refuses what it refuses', async (t) => {
  const good = encodeReceipt({ qid: '00112233aabbccdd', seq: 2 ** 40 + 7, receiveCount: 3, issuer: 0xdeadbeef });
  const bytes = Buffer.from(`xx${good}yy`, 'latin1');
  t.same(readReceiptBytes(bytes, 2), readReceipt(good));
  t.same(decodeReceipt(good), { qid: '00112233aabbccdd', seq: 2 ** 40 + 7, receiveCount: 3, issuer: 0xdeadbeef });
  for (const bad of ['!'.repeat(32), `${good.slice(0, 31)}=`, `${good.slice(0, 31)}\u00e9`, `${good.slice(0, 31)}\u0141`]) {
    t.equal(readReceipt(bad), undefined, `string ${JSON.stringify(bad)}`);
    t.equal(readReceiptBytes(Buffer.from(bad, 'utf8'), 0), undefined, `bytes (UTF-8) of ${JSON.stringify(bad)}`);
  }
  // A sequence at 2^53 or past it is never issued.
  const tooFar = encodeReceipt({ qid: '00112233aabbccdd', seq: 0, receiveCount: 1, issuer: 1 });
  const b = Buffer.from(tooFar, 'latin1');
  Buffer.from('____', 'latin1').copy(b, 8); // the sequence's high word all ones
  t.equal(readReceiptBytes(b, 0), undefined);
});

t.test('packReceipts: 32 ASCII characters each, or undefined', async (t) => {
  const r = encodeReceipt({ qid: '0000000000000001', seq: 1, receiveCount: 1, issuer: 1 });
  t.same(packReceipts([r, r]), Buffer.from(r + r, 'latin1'));
  t.equal(packReceipts([r, 'short']), undefined);
  t.equal(packReceipts([`${r.slice(0, 31)}\u00e9`]), undefined);
  t.equal(packReceipts([r, `${r.slice(0, 31)}\ud800`]), undefined, 'a lone surrogate');
  t.equal(packReceipts([r, `${r.slice(0, 31)}\u0141`]), undefined, 'a character past latin1');
});


async function fill(queue: string, n: number): Promise<void> {
  await s.ok('sendBatch', { queue, entries: Array.from({ length: n }, (_, i) => ({ body: `m${i}` })) });
}

async function receive(queue: string, max: number, extra: Record<string, unknown> = {}): Promise<DeliveredMessage[]> {
  return (await s.ok<Received>('receive', { queue, max, visibilityMs: 600_000, ...extra })).messages;
}

async function visible(queue: string): Promise<{ visible: number; leased: number; messages: number }> {
  return (await s.ok<{ stats: { visible: number; leased: number; messages: number } }>('getQueueAttributes', { queue })).stats;
}

t.test('deletes every message of a full batch, and counts repeats as gone', async (t) => {
  await fill('dr', 1000);
  const got = await receive('dr', 1000);
  t.equal(got.length, 1000);
  const receipts = pack(got.map((m) => m.receipt));
  t.same(await s.ok<DeleteReceiptsResult>('deleteReceipts', { queue: 'dr', receipts }), { deleted: 1000, gone: 0, errors: [] });
  t.match(await visible('dr'), { visible: 0, leased: 0, messages: 0 });
  t.same(await s.ok<DeleteReceiptsResult>('deleteReceipts', { queue: 'dr', receipts }), { deleted: 0, gone: 1000, errors: [] }, 'a repeated ack is not an error');
});

t.test('a bad receipt is its own entry\'s error; the others are deleted', async (t) => {
  await fill('dr', 3);
  await fill('dr-other', 1);
  const [a, b, c] = await receive('dr', 3);
  const [foreign] = await receive('dr-other', 1);
  // b's lease ends and it is delivered again: its first receipt is stale.
  await s.ok('changeVisibility', { queue: 'dr', receipt: b!.receipt, visibilityMs: 0 });
  const [b2] = await receive('dr', 1);
  t.equal(b2!.seq, b!.seq);
  const forged = encodeReceipt({ ...decodeReceipt(c!.receipt)!, receiveCount: 9 });
  const res = await s.ok<DeleteReceiptsResult>('deleteReceipts', {
    queue: 'dr', receipts: pack([a!.receipt, '!'.repeat(32), foreign!.receipt, b!.receipt, forged, b2!.receipt, c!.receipt]),
  });
  t.equal(res.deleted, 3, 'a, b (by its current receipt) and c');
  t.equal(res.gone, 0);
  t.match(res.errors, [
    { index: 1, error: { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipts.1' } },
    { index: 2, error: { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipts.2' } },
    { index: 3, error: { code: ErrorCodes.ReceiptHandleExpired, field: 'receipts.3' } },
    { index: 4, error: { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipts.4' } },
  ]);
  t.equal(res.errors.length, 4);
  t.match(await visible('dr'), { messages: 0 });
});

t.test('stream mode: acknowledges for the receipt\'s group', async (t) => {
  await s.ok('createQueue', { queue: 'dr-stream', attributes: { mode: 'stream', visibilityMs: 600_000 } });
  await s.ok('createGroup', { queue: 'dr-stream', group: 'g1', start: 'earliest' });
  await s.ok('createGroup', { queue: 'dr-stream', group: 'g2', start: 'earliest' });
  await fill('dr-stream', 5);
  const g1 = await receive('dr-stream', 5, { group: 'g1' });
  const g2 = await receive('dr-stream', 5, { group: 'g2' });
  t.same(await s.ok<DeleteReceiptsResult>('deleteReceipts', { queue: 'dr-stream', receipts: pack(g1.map((m) => m.receipt)) }), { deleted: 5, gone: 0, errors: [] });
  const groups = (await s.ok<{ groups: Array<{ group: string; committed: number }> }>('listGroups', { queue: 'dr-stream' })).groups;
  t.match(groups.find((g) => g.group === 'g1'), { committed: 5 }, 'g1 acknowledged all five');
  t.match(groups.find((g) => g.group === 'g2'), { committed: 0 }, 'g2 acknowledged nothing');
  t.same(await s.ok<DeleteReceiptsResult>('deleteReceipts', { queue: 'dr-stream', receipts: pack(g2.map((m) => m.receipt)) }), { deleted: 5, gone: 0, errors: [] });
});

let goodRequests = 0;
/** The same socket still serves a good request. */
async function stillServes(t: Test): Promise<void> {
  const r = await s.call('send', { queue: 'dr', body: `good ${++goodRequests}` });
  t.ok(r.error === undefined, 'the same socket still serves a good request');
  t.equal(s.closed, undefined, 'socket open');
}

async function badRequest(t: Test, args: Record<string, unknown>, code: ErrorCode, field: string): Promise<void> {
  const r = await s.call('deleteReceipts', args);
  t.equal(r.error?.code, code, `code (got ${JSON.stringify(r.error ?? r.result)})`);
  t.equal(r.error?.field, field, 'names the field');
  t.ok(r.error?.message.includes(field), `the message names ${field}: ${r.error?.message}`);
  t.notOk(r.error?.retryable, 'not retryable');
  await stillServes(t);
}

t.test('bad requests: each its code and field, the socket stays usable', async (t) => {
  const one = pack([encodeReceipt({ qid: '0000000000000001', seq: 1, receiveCount: 1, issuer: 1 })]);
  await badRequest(t, { queue: 'dr' }, ErrorCodes.MissingField, 'receipts');
  await badRequest(t, { queue: 'dr', receipts: null }, ErrorCodes.MissingField, 'receipts');
  await badRequest(t, { queue: 'dr', receipts: 'A'.repeat(32) }, ErrorCodes.InvalidField, 'receipts');
  await badRequest(t, { queue: 'dr', receipts: ['A'.repeat(32)] }, ErrorCodes.InvalidField, 'receipts');
  await badRequest(t, { queue: 'dr', receipts: new Uint8Array(0) }, ErrorCodes.EmptyBatch, 'receipts');
  await badRequest(t, { queue: 'dr', receipts: Buffer.concat([one, Buffer.from('A')]) }, ErrorCodes.InvalidField, 'receipts');
  await badRequest(t, { queue: 'dr', receipts: one.subarray(0, 31) }, ErrorCodes.InvalidField, 'receipts');
  await badRequest(t, { queue: 'dr', receipts: Buffer.concat(Array.from({ length: Limits.maxBatchEntries + 1 }, () => one)) }, ErrorCodes.BatchTooLarge, 'receipts');
  await badRequest(t, { receipts: one }, ErrorCodes.MissingField, 'queue');
  await badRequest(t, { queue: 'dr-nope', receipts: one }, ErrorCodes.QueueDoesNotExist, 'queue');
  // 1000 receipts is the most a batch holds: accepted (each one of another queue: its own error).
  const res = await s.ok<DeleteReceiptsResult>('deleteReceipts', { queue: 'dr', receipts: Buffer.concat(Array.from({ length: Limits.maxBatchEntries }, () => one)) });
  t.equal(res.errors.length, Limits.maxBatchEntries);
  t.match(res.errors[999], { index: 999, error: { code: ErrorCodes.ReceiptHandleIsInvalid, field: 'receipts.999' } });
});

t.test('metrics count acknowledged messages', async (t) => {
  await fill('dr-other', 4);
  const got = await receive('dr-other', 10);
  t.equal(got.length, 4);
  await s.ok('deleteReceipts', { queue: 'dr-other', receipts: pack(got.map((m) => m.receipt)) });
  const text = await (await fetch(`${broker.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('ferry_messages_total') && l.includes('queue="dr-other"') && l.includes('event="deleted"'));
  t.ok(line !== undefined && Number(line.split(' ').pop()) >= 4, `deleted counted: ${line}`);
});
