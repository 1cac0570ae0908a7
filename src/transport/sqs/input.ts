/**
 * Reading an action's input: the AWS JSON 1.0 shapes of the SQS model (the query protocol's form is
 * turned into the same shapes first). Each accessor names the parameter at fault in SQS's words.
 */
import { invalidValue, missingParameter, SqsError } from './errors.js';

export type Input = Record<string, unknown>;

export function isObj(v: unknown): v is Input {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function optString(input: Input, name: string): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidValue(name, 'must be a string.', v);
  return v;
}

export function reqString(input: Input, name: string): string {
  const v = optString(input, name);
  if (v === undefined || v === '') throw missingParameter(name);
  return v;
}

/** Integers arrive as JSON numbers, or as strings from the query protocol. */
export function optInt(input: Input, name: string, min: number, max: number): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw invalidValue(name, 'must be an integer.', v);
  if (n < min || n > max) throw invalidValue(name, `must be between ${min} and ${max}, if provided.`, String(v));
  return n;
}

export function reqInt(input: Input, name: string, min: number, max: number): number {
  const v = optInt(input, name, min, max);
  if (v === undefined) throw missingParameter(name);
  return v;
}

export function optStringList(input: Input, name: string): string[] | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalidValue(name, 'must be a list of strings.');
  return v as string[];
}

export function optStringMap(input: Input, name: string): Record<string, string> | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v) || Object.values(v).some((x) => typeof x !== 'string')) throw invalidValue(name, 'must be a map of strings.');
  return v as Record<string, string>;
}

export const MAX_BATCH_ENTRIES = 10;
const BATCH_ID_RE = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * The Entries of a batch action: 1–10 maps, each with an Id of 1–80 of [A-Za-z0-9_-], Ids distinct
 * (API Reference, SendMessageBatch / DeleteMessageBatch / ChangeMessageVisibilityBatch, Errors).
 */
export function batchEntries(input: Input, entryName: string): Input[] {
  const v = input.Entries;
  if (v === undefined || v === null) throw missingParameter('Entries');
  if (!Array.isArray(v)) throw invalidValue('Entries', 'must be a list.');
  if (v.length === 0) throw new SqsError('EmptyBatchRequest', `There should be at least one ${entryName} in the request.`);
  if (v.length > MAX_BATCH_ENTRIES) {
    throw new SqsError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${v.length}.`);
  }
  const seen = new Set<string>();
  for (const e of v) {
    if (!isObj(e)) throw invalidValue('Entries', 'each entry must be a structure.');
    const id = e.Id;
    if (typeof id !== 'string' || id === '') throw missingParameter('Entries.N.Id');
    if (!BATCH_ID_RE.test(id)) {
      throw new SqsError('InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.');
    }
    if (seen.has(id)) throw new SqsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
    seen.add(id);
  }
  return v as Input[];
}
