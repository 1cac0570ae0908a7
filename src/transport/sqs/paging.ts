/** NextToken of the listing actions: the last name of the page, opaque to clients (base64url). */
import { invalidValue } from './errors.js';

export function encodeToken(after: string): string {
  return Buffer.from(`v1:${after}`, 'utf8').toString('base64url');
}

export function decodeToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith('v1:')) throw invalidValue('NextToken', 'Invalid or expired next token.', token);
  return text.slice(3);
}
