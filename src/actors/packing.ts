/**
 * Batches across the thread boundary in a compact, columnar form. postMessage pays per object it
 * clones (profiled: about a microsecond per small map, on each of the two threads), so a batch of
 * N maps is sent as a few arrays instead: bodies back to back with their end offsets, numbers in
 * Float64Arrays, strings in plain arrays, and only what is unusual (delay, attributes, fields this
 * module does not know) as maps. Used for sendBatch entries (main → shard), pushed deliveries and
 * uniform batch replies (shard → main). Unknown fields always survive the round trip, so the queue
 * model can grow fields without touching this module.
 */
import type { DeliveredMessage, SendEntry } from '../protocol/ops.js';

export interface PackedEntries {
  bytes: Uint8Array;
  /** End offset in `bytes` of each entry's body. */
  ends: Uint32Array;
  /** Entries with fields besides `body`: [index, the entry without its body]. */
  extras: Array<[number, Omit<SendEntry, 'body'>]> | undefined;
}

function hasMoreThanBody(e: SendEntry): boolean {
  for (const key in e) if (key !== 'body' && (e as unknown as Record<string, unknown>)[key] !== undefined) return true;
  return false;
}

export function packEntries(entries: readonly SendEntry[]): PackedEntries {
  let total = 0;
  for (const e of entries) total += e.body.byteLength;
  const bytes = new Uint8Array(total);
  const ends = new Uint32Array(entries.length);
  let extras: PackedEntries['extras'];
  let offset = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    bytes.set(e.body, offset);
    offset += e.body.byteLength;
    ends[i] = offset;
    if (hasMoreThanBody(e)) {
      const { body: _body, ...rest } = e;
      (extras ??= []).push([i, rest]);
    }
  }
  return { bytes, ends, extras };
}

/** The entries again; bodies are views into `packed.bytes`. */
export function unpackEntries(packed: PackedEntries): SendEntry[] {
  const out = new Array<SendEntry>(packed.ends.length);
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    const end = packed.ends[i]!;
    out[i] = { body: packed.bytes.subarray(start, end) };
    start = end;
  }
  if (packed.extras !== undefined) for (const [i, rest] of packed.extras) out[i] = { ...rest, body: out[i]!.body };
  return out;
}

export interface PackedMessages {
  bytes: Uint8Array;
  ends: Uint32Array;
  messageIds: string[];
  receipts: string[];
  /** seq, receiveCount, sentAt, firstReceivedAt of each message, in that order. */
  numbers: Float64Array;
  /** Messages with other fields (attributes, …): [index, those fields]. */
  extras: Array<[number, Record<string, unknown>]> | undefined;
}

const CORE_FIELDS = new Set(['messageId', 'receipt', 'body', 'seq', 'receiveCount', 'sentAt', 'firstReceivedAt']);

export function packMessages(messages: readonly DeliveredMessage[]): PackedMessages {
  const n = messages.length;
  let total = 0;
  for (const m of messages) total += m.body.byteLength;
  const bytes = new Uint8Array(total);
  const ends = new Uint32Array(n);
  const numbers = new Float64Array(n * 4);
  const messageIds = new Array<string>(n);
  const receipts = new Array<string>(n);
  let extras: PackedMessages['extras'];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    bytes.set(m.body, offset);
    offset += m.body.byteLength;
    ends[i] = offset;
    messageIds[i] = m.messageId;
    receipts[i] = m.receipt;
    numbers[i * 4] = m.seq;
    numbers[i * 4 + 1] = m.receiveCount;
    numbers[i * 4 + 2] = m.sentAt;
    numbers[i * 4 + 3] = m.firstReceivedAt;
    let rest: Record<string, unknown> | undefined;
    for (const key in m) {
      const v = (m as unknown as Record<string, unknown>)[key];
      if (!CORE_FIELDS.has(key) && v !== undefined) (rest ??= {})[key] = v;
    }
    if (rest !== undefined) (extras ??= []).push([i, rest]);
  }
  return { bytes, ends, messageIds, receipts, numbers, extras };
}

/** The messages again; bodies are views into `packed.bytes`. */
export function unpackMessages(packed: PackedMessages): DeliveredMessage[] {
  const n = packed.ends.length;
  const out = new Array<DeliveredMessage>(n);
  const num = packed.numbers;
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = packed.ends[i]!;
    out[i] = {
      messageId: packed.messageIds[i]!,
      receipt: packed.receipts[i]!,
      body: packed.bytes.subarray(start, end),
      seq: num[i * 4]!,
      receiveCount: num[i * 4 + 1]!,
      sentAt: num[i * 4 + 2]!,
      firstReceivedAt: num[i * 4 + 3]!,
    };
    start = end;
  }
  if (packed.extras !== undefined) for (const [i, rest] of packed.extras) Object.assign(out[i]!, rest);
  return out;
}

/**
 * A batch reply `{ results: [{ ok: {…} }, …] }` whose entries are all `ok` with the same flat shape
 * (sendBatch: messageId, seq; deleteBatch: deleted), as one column per field.
 */
export interface PackedResults {
  fields: string[];
  columns: Array<Float64Array | unknown[]>;
  count: number;
}

type Flat = Record<string, unknown>;

/** Undefined when the result is not such a batch reply (it then travels as it is). */
export function packResults(result: unknown): PackedResults | undefined {
  if (result === null || typeof result !== 'object') return undefined;
  const results = (result as { results?: unknown }).results;
  if (!Array.isArray(results) || results.length < 2) return undefined;
  for (const key in result) if (key !== 'results') return undefined;
  const first = (results[0] as { ok?: unknown }).ok;
  if (first === null || typeof first !== 'object') return undefined;
  const fields = Object.keys(first);
  const columns: unknown[][] = fields.map(() => new Array<unknown>(results.length));
  for (let i = 0; i < results.length; i++) {
    const entry = results[i] as Flat;
    let keys = 0;
    for (const _ in entry) keys++;
    const ok = entry.ok as Flat | undefined;
    if (keys !== 1 || ok === undefined || ok === null || typeof ok !== 'object') return undefined;
    let n = 0;
    for (const _ in ok) n++;
    if (n !== fields.length) return undefined;
    for (let f = 0; f < fields.length; f++) {
      const v = ok[fields[f]!];
      const t = typeof v;
      if (t !== 'string' && t !== 'number' && t !== 'boolean') return undefined;
      columns[f]![i] = v;
    }
  }
  return {
    fields,
    columns: columns.map((c) => (c.every((v) => typeof v === 'number') ? Float64Array.from(c as number[]) : c)),
    count: results.length,
  };
}

export function unpackResults(packed: PackedResults): { results: Array<{ ok: Flat }> } {
  const results = new Array<{ ok: Flat }>(packed.count);
  const { fields, columns } = packed;
  for (let i = 0; i < packed.count; i++) {
    const ok: Flat = {};
    for (let f = 0; f < fields.length; f++) ok[fields[f]!] = columns[f]![i];
    results[i] = { ok };
  }
  return { results };
}
