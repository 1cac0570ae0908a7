/**
 * SQS message attributes and their home in Ferry's string→string message attributes.
 *
 * Encoding (lossless both ways): an attribute of DataType exactly `String` is stored as itself
 * (name → value), so a WebSocket client sees it plainly and a WebSocket message's attributes show
 * up in SQS as String attributes. Any other type keeps its value under its name (Number as its
 * text, Binary as base64) and its DataType in one reserved entry `sqs:types`, a JSON map
 * name → DataType. System attributes sent with a message (AWSTraceHeader) are stored under
 * `sqs:AWSTraceHeader`. The colon cannot appear in an SQS attribute name, so reserved keys never
 * collide with a user's.
 *
 * Validation follows the SQS API Reference, "MessageAttributeValue" and SendMessage
 * "MessageAttributes": at most 10 attributes; names of 1–256 of [A-Za-z0-9_.-], not starting with
 * `AWS.` or `Amazon.`, no leading/trailing or doubled period; DataType String, Number or Binary,
 * optionally followed by `.` and a custom label; String/Number need StringValue, Binary needs
 * BinaryValue.
 */
import type { MessageAttributes } from '../../protocol/ops.js';
import { invalidValue, SqsError } from './errors.js';

export interface SqsAttributeValue {
  DataType: string;
  StringValue?: string;
  /** base64, as the JSON protocol carries blobs. */
  BinaryValue?: string;
}

export type SqsAttributes = Record<string, SqsAttributeValue>;

export const TYPES_KEY = 'sqs:types';
export const TRACE_KEY = 'sqs:AWSTraceHeader';
export const MAX_MESSAGE_ATTRIBUTES = 10;

const NAME_RE = /^[A-Za-z0-9_.-]{1,256}$/;
const TYPE_RE = /^(String|Number|Binary)(\.[^\s]{1,250})?$/;
// SQS "Number": up to 38 significant digits, from 10^-128 to 10^+126.
const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
// The characters SQS allows in bodies and string values (W3C XML 1.0 Char, minus #x0-#x8 etc.).
const INVALID_CHAR_RE = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export function hasInvalidCharacters(s: string): boolean {
  return INVALID_CHAR_RE.test(s);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates MessageAttributes from a request; returns them and their size in bytes as SQS counts it. */
export function parseMessageAttributes(v: unknown, param = 'MessageAttributes'): { attributes: SqsAttributes | undefined; bytes: number } {
  if (v === undefined || v === null) return { attributes: undefined, bytes: 0 };
  if (!isObj(v)) throw invalidValue(param, 'must be a map of name to MessageAttributeValue.');
  const names = Object.keys(v);
  if (names.length === 0) return { attributes: undefined, bytes: 0 };
  if (names.length > MAX_MESSAGE_ATTRIBUTES) {
    throw invalidValue(param, `Number of message attributes [${names.length}] exceeds the allowed maximum [${MAX_MESSAGE_ATTRIBUTES}].`);
  }
  const out: SqsAttributes = {};
  let bytes = 0;
  for (const name of names) {
    if (!NAME_RE.test(name) || /^(aws\.|amazon\.)/i.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
      throw invalidValue(param, `Message attribute name '${name.slice(0, 256)}' is invalid.`);
    }
    const a = v[name];
    if (!isObj(a)) throw invalidValue(param, `The message attribute '${name}' must be a MessageAttributeValue.`);
    const type = a.DataType;
    if (typeof type !== 'string' || type.length === 0) throw invalidValue(param, `The message attribute '${name}' must contain a non-empty message attribute type.`);
    if (!TYPE_RE.test(type) || type.length > 256) {
      throw invalidValue(param, `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`);
    }
    if (a.StringListValues !== undefined || a.BinaryListValues !== undefined) {
      throw new SqsError('UnsupportedOperation', `The message attribute '${name}': StringListValues and BinaryListValues are not implemented.`);
    }
    const value: SqsAttributeValue = { DataType: type };
    if (type.startsWith('Binary')) {
      if (typeof a.BinaryValue !== 'string' || a.BinaryValue.length === 0) throw invalidValue(param, `The message attribute '${name}' with type 'Binary' must use field 'Binary'.`);
      if (a.StringValue !== undefined) throw invalidValue(param, `The message attribute '${name}' with type 'Binary' must not have a StringValue.`);
      const raw = Buffer.from(a.BinaryValue, 'base64');
      if (raw.byteLength === 0) throw invalidValue(param, `The message attribute '${name}' must contain non-empty message attribute value.`);
      value.BinaryValue = raw.toString('base64');
      bytes += raw.byteLength;
    } else {
      if (typeof a.StringValue !== 'string' || a.StringValue.length === 0) {
        throw invalidValue(param, `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${type}'.`);
      }
      if (a.BinaryValue !== undefined) throw invalidValue(param, `The message attribute '${name}' with type '${type}' must not have a BinaryValue.`);
      if (type.startsWith('Number') && !isSqsNumber(a.StringValue)) {
        throw invalidValue(param, `Could not cast message attribute '${name}' value to number.`);
      }
      if (hasInvalidCharacters(a.StringValue)) throw new SqsError('InvalidMessageContents', `The message attribute '${name}' contains characters outside the allowed set.`);
      value.StringValue = a.StringValue;
      bytes += Buffer.byteLength(a.StringValue, 'utf8');
    }
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(type, 'utf8');
    out[name] = value;
  }
  return { attributes: out, bytes };
}

function isSqsNumber(s: string): boolean {
  if (!NUMBER_RE.test(s.trim())) return false;
  const n = Number(s);
  if (!Number.isFinite(n)) return false;
  const digits = s.replace(/[eE].*$/, '').replace(/[^0-9]/g, '').replace(/^0+/, '');
  if (digits.length > 38) return false;
  return n === 0 || (Math.abs(n) >= 1e-128 && Math.abs(n) <= 1e126);
}

/** MessageSystemAttributes of a send: only AWSTraceHeader (String) exists. */
export function parseSystemAttributes(v: unknown): { attributes: SqsAttributes | undefined; bytes: number } {
  const parsed = parseSystemAttributeShapes(v);
  if (parsed === undefined) return { attributes: undefined, bytes: 0 };
  const names = Object.keys(parsed);
  for (const name of names) {
    if (name !== 'AWSTraceHeader') throw invalidValue('MessageSystemAttributes', `Message system attribute name '${name}' is invalid.`);
    const a = parsed[name]!;
    if (a.DataType !== 'String' || typeof a.StringValue !== 'string' || a.StringValue.length === 0) {
      throw invalidValue('MessageSystemAttributes', "Message system attribute 'AWSTraceHeader' must be of type String with a non-empty StringValue.");
    }
  }
  return names.length === 0 ? { attributes: undefined, bytes: 0 } : { attributes: parsed, bytes: 0 };
}

function parseSystemAttributeShapes(v: unknown): SqsAttributes | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw invalidValue('MessageSystemAttributes', 'must be a map of name to MessageSystemAttributeValue.');
  const out: SqsAttributes = {};
  for (const [name, a] of Object.entries(v)) {
    if (!isObj(a) || typeof a.DataType !== 'string') throw invalidValue('MessageSystemAttributes', `Message system attribute '${name}' must have a DataType.`);
    const value: SqsAttributeValue = { DataType: a.DataType };
    if (typeof a.StringValue === 'string') value.StringValue = a.StringValue;
    out[name] = value;
  }
  return out;
}

/** Typed SQS attributes (and an optional trace header) → Ferry's string attributes. */
export function toFerryAttributes(attrs: SqsAttributes | undefined, traceHeader?: string): MessageAttributes | undefined {
  if (attrs === undefined && traceHeader === undefined) return undefined;
  const out: MessageAttributes = {};
  const types: Record<string, string> = {};
  for (const [name, v] of Object.entries(attrs ?? {})) {
    out[name] = v.BinaryValue ?? v.StringValue ?? '';
    if (v.DataType !== 'String') types[name] = v.DataType;
  }
  if (Object.keys(types).length > 0) out[TYPES_KEY] = JSON.stringify(types);
  if (traceHeader !== undefined) out[TRACE_KEY] = traceHeader;
  return out;
}

/** Ferry's string attributes → typed SQS attributes and the stored trace header. */
export function fromFerryAttributes(attrs: MessageAttributes | undefined): { attributes: SqsAttributes; traceHeader: string | undefined } {
  const attributes: SqsAttributes = {};
  if (attrs === undefined) return { attributes, traceHeader: undefined };
  let types: Record<string, unknown> = {};
  const typesRaw = attrs[TYPES_KEY];
  if (typesRaw !== undefined) {
    try {
      const parsed: unknown = JSON.parse(typesRaw);
      if (isObj(parsed)) types = parsed;
    } catch {
      // A WebSocket client wrote something else under the reserved key: treat every value as a String.
    }
  }
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith('sqs:')) continue;
    const type = typeof types[name] === 'string' ? (types[name] as string) : 'String';
    attributes[name] = type.startsWith('Binary') ? { DataType: type, BinaryValue: value } : { DataType: type, StringValue: value };
  }
  return { attributes, traceHeader: attrs[TRACE_KEY] };
}

/** The MessageAttributeNames selection of ReceiveMessage: `All`, `.*`, `prefix.*`, or exact names. */
export function selectAttributes(attrs: SqsAttributes, names: readonly string[] | undefined): SqsAttributes | undefined {
  if (names === undefined || names.length === 0) return undefined;
  const out: SqsAttributes = {};
  for (const [name, v] of Object.entries(attrs)) {
    const wanted = names.some((n) => n === 'All' || n === '.*' || n === name || (n.endsWith('.*') && name.startsWith(n.slice(0, -1))));
    if (wanted) out[name] = v;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}
