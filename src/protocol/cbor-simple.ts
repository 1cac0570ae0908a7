/**
 * CBOR major type 7 (RFC 8949 §3.3) as both subset readers take it: the simple values false,
 * true, null and undefined (additional info 20–23), and a float64 (27) read from its 8 bytes.
 * Anything else (other simple values, half and single floats, break) is outside the subset.
 */

/** The value of a major-type-7 item with no payload, or NOT_SIMPLE when `info` is not 20–23. */
export const NOT_SIMPLE: unique symbol = Symbol('not a simple value');

export function simpleValue(info: number): boolean | null | undefined | typeof NOT_SIMPLE {
  switch (info) {
    case 20:
      return false;
    case 21:
      return true;
    case 22:
      return null;
    case 23:
      return undefined;
    default:
      return NOT_SIMPLE;
  }
}

/** Additional info of a float64 item: its value is the next 8 bytes. */
export const FLOAT64_INFO = 27;
