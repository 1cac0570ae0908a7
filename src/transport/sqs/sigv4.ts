/**
 * AWS Signature Version 4 checking ("Signature Version 4 signing process", AWS General Reference:
 * create a canonical request, a string to sign, the signing key, the signature). Used only when
 * the broker is configured with SQS credentials; otherwise requests are accepted unsigned.
 * Both forms are accepted: the Authorization header, and the X-Amz-* query parameters of a
 * presigned request.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { HttpRequest } from '../http-request.js';
import { SqsError } from './errors.js';

export interface SqsCredential {
  accessKeyId: string;
  secretAccessKey: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** Amazon refuses requests whose date is more than 15 minutes off. */
const MAX_SKEW_MS = 15 * 60 * 1000;

function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export function parseQueryString(query: string): Array<[string, string]> {
  if (query === '') return [];
  return query.split('&').filter((p) => p !== '').map((pair) => {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? '' : pair.slice(eq + 1);
    return [decodeURIComponent(k.replace(/\+/g, ' ')), decodeURIComponent(v.replace(/\+/g, ' '))];
  });
}

function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  const normalized = `/${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

function canonicalQuery(pairs: Array<[string, string]>): string {
  return pairs
    .filter(([k]) => k.toLowerCase() !== 'x-amz-signature')
    .map(([k, v]) => `${escapeUri(k)}=${escapeUri(v)}`)
    .sort()
    .join('&');
}

interface AuthParts {
  accessKeyId: string;
  scope: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
}

function fromHeader(auth: string, headers: Record<string, string>): AuthParts {
  if (!auth.startsWith(`${ALGORITHM} `)) throw new SqsError('IncompleteSignature', `Unsupported authorization algorithm; expected ${ALGORITHM}.`);
  const fields: Record<string, string> = {};
  for (const part of auth.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  const { Credential: credential, SignedHeaders: signed, Signature: signature } = fields;
  const amzDate = headers['x-amz-date'];
  if (credential === undefined || signed === undefined || signature === undefined || amzDate === undefined) {
    throw new SqsError('IncompleteSignature', 'Authorization header requires Credential, SignedHeaders and Signature, and the request an X-Amz-Date header.');
  }
  return { ...credentialParts(credential), signedHeaders: signed.split(';'), signature, amzDate };
}

function credentialParts(credential: string): Pick<AuthParts, 'accessKeyId' | 'scope' | 'date' | 'region' | 'service'> {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') throw new SqsError('IncompleteSignature', `Credential should be scoped to a valid region: ${credential}`);
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  return { accessKeyId, date, region, service, scope: parts.slice(1).join('/') };
}

function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null) throw new SqsError('IncompleteSignature', `X-Amz-Date must be of the form YYYYMMDD'T'HHMMSS'Z', got ${s.slice(0, 40)}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** Throws the SQS error a bad or missing signature gets; returns the access key id on success. */
export function verifySigV4(req: HttpRequest, credentials: readonly SqsCredential[], now = Date.now()): string {
  const queryPairs = parseQueryString(req.query);
  const auth = req.headers.authorization;
  let parts: AuthParts;
  if (auth !== undefined) {
    parts = fromHeader(auth, req.headers);
  } else {
    const q = Object.fromEntries(queryPairs);
    if (q['X-Amz-Algorithm'] === undefined) throw new SqsError('MissingAuthenticationToken', 'Request is missing Authentication Token');
    if (q['X-Amz-Algorithm'] !== ALGORITHM || q['X-Amz-Credential'] === undefined || q['X-Amz-SignedHeaders'] === undefined || q['X-Amz-Signature'] === undefined || q['X-Amz-Date'] === undefined) {
      throw new SqsError('IncompleteSignature', 'A presigned request needs X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders and X-Amz-Signature.');
    }
    parts = { ...credentialParts(q['X-Amz-Credential']), signedHeaders: q['X-Amz-SignedHeaders'].split(';'), signature: q['X-Amz-Signature'], amzDate: q['X-Amz-Date'] };
  }
  const at = parseAmzDate(parts.amzDate);
  if (Math.abs(now - at) > MAX_SKEW_MS) throw new SqsError('RequestExpired', `Signature expired: ${parts.amzDate} is more than 15 minutes from the server time.`);
  if (!parts.amzDate.startsWith(parts.date)) throw new SqsError('SignatureDoesNotMatch', 'The credential scope date does not match X-Amz-Date.');
  const cred = credentials.find((c) => c.accessKeyId === parts.accessKeyId);
  if (cred === undefined) throw new SqsError('InvalidClientTokenId', 'The security token included in the request is invalid.');
  if (!parts.signedHeaders.includes('host')) throw new SqsError('SignatureDoesNotMatch', 'The host header must be signed.');
  const headerLines = [...parts.signedHeaders].sort().map((h) => {
    const v = req.headers[h];
    if (v === undefined) throw new SqsError('SignatureDoesNotMatch', `Signed header ${h} is missing from the request.`);
    return `${h}:${v.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').trim()}`;
  });
  const payloadHash = req.headers['x-amz-content-sha256'] ?? sha256Hex(req.body);
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256Hex(req.body)) {
    throw new SqsError('SignatureDoesNotMatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }
  const canonical = [req.method, canonicalPath(req.path), canonicalQuery(queryPairs), ...headerLines, '', [...parts.signedHeaders].sort().join(';'), payloadHash].join('\n');
  const stringToSign = [ALGORITHM, parts.amzDate, parts.scope, sha256Hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${cred.secretAccessKey}`, parts.date), parts.region), parts.service), 'aws4_request');
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(parts.signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SqsError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
  }
  return cred.accessKeyId;
}

/** Parses `KEY:SECRET[,KEY:SECRET…]` (the --sqs-credentials flag, FERRY_SQS_CREDENTIALS). */
export function parseCredentials(spec: string): SqsCredential[] {
  const out: SqsCredential[] = [];
  for (const item of spec.split(',')) {
    const s = item.trim();
    if (s === '') continue;
    const colon = s.indexOf(':');
    if (colon <= 0 || colon === s.length - 1) throw new Error(`expected KEY:SECRET, got ${JSON.stringify(s.slice(0, 20))}…`);
    const accessKeyId = s.slice(0, colon);
    if (!/^[A-Za-z0-9]{1,128}$/.test(accessKeyId)) throw new Error(`access key id must be 1–128 letters and digits, got ${JSON.stringify(accessKeyId.slice(0, 20))}`);
    out.push({ accessKeyId, secretAccessKey: s.slice(colon + 1) });
  }
  if (out.length === 0) throw new Error('no credentials given');
  return out;
}
