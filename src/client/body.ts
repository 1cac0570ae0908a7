/** Message bodies: strings are sent as UTF-8. */
const utf8 = new TextEncoder();

export type Body = Uint8Array | string;

export function toBytes(body: Body): Uint8Array {
  if (typeof body === 'string') return utf8.encode(body);
  if (body instanceof Uint8Array) return body;
  throw new TypeError('body must be a Uint8Array or a string');
}
