/**
 * sendBatch entries across the thread boundary (main → shard) in a compact, columnar form.
 * postMessage pays per object it clones (profiled: about a microsecond per small map, on each of
 * the two threads), so a batch of N entries is sent as bodies back to back with their end offsets,
 * and only what is unusual (delay, attributes, fields this module does not know) as maps. Unknown
 * fields always survive the round trip, so the queue model can grow fields without touching this
 * module. (The other direction travels as CBOR the shard encoded: protocol/encoded.ts.)
 */
import type { SendEntry } from '../protocol/ops.js';

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
