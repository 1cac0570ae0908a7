/**
 * The digests SQS returns with SendMessage and ReceiveMessage, which SDKs compare with their own.
 *
 * MD5OfMessageBody: MD5 of the body's UTF-8 bytes, lower-case hex.
 * MD5OfMessageAttributes (SQS Developer Guide, "Calculating the MD5 message digest for message
 * attributes"): for each attribute, sorted by name, append
 *   length(name) name length(dataType) dataType transportType length(value) value
 * where lengths are 4-byte big-endian byte counts, the transport type is one byte, 1 for String and
 * Number (and their custom subtypes), 2 for Binary, and value is the UTF-8 string or the raw bytes.
 * The same scheme gives MD5OfMessageSystemAttributes.
 */
import { createHash } from 'node:crypto';
import type { SqsAttributeValue } from './message-attributes.js';

export function md5Hex(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

function lengthPrefixed(bytes: Uint8Array): Buffer[] {
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(bytes.byteLength, 0);
  return [len, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)];
}

/** Undefined when there are no attributes (SQS then omits the field). */
export function md5OfAttributes(attrs: Record<string, SqsAttributeValue> | undefined): string | undefined {
  if (attrs === undefined) return undefined;
  const names = Object.keys(attrs).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  for (const name of names) {
    const v = attrs[name]!;
    parts.push(...lengthPrefixed(Buffer.from(name, 'utf8')), ...lengthPrefixed(Buffer.from(v.DataType, 'utf8')));
    if (v.DataType.startsWith('Binary')) {
      parts.push(Buffer.of(2), ...lengthPrefixed(Buffer.from(v.BinaryValue ?? '', 'base64')));
    } else {
      parts.push(Buffer.of(1), ...lengthPrefixed(Buffer.from(v.StringValue ?? '', 'utf8')));
    }
  }
  return md5Hex(Buffer.concat(parts));
}
