/**
 * Queue URLs and ARNs. A queue's URL is `http://HOST:PORT/ACCOUNT/QUEUE`, built from the Host the
 * client used (so the URL it gets back reaches the same listener); its ARN is
 * `arn:aws:sqs:REGION:ACCOUNT:QUEUE`. An incoming QueueUrl is accepted with any host (clients keep
 * URLs across restarts and proxies) as long as its path is /ACCOUNT/QUEUE of this broker's account.
 */
import { isValidQueueName } from '../../protocol/limits.js';
import { invalidValue, SqsError } from './errors.js';

export interface SqsIdentity {
  accountId: string;
  region: string;
}

export const DEFAULT_ACCOUNT_ID = '000000000000';
export const DEFAULT_REGION = 'us-east-1';

export function queueUrl(host: string, id: SqsIdentity, queue: string): string {
  return `http://${host}/${id.accountId}/${queue}`;
}

export function queueArn(id: SqsIdentity, queue: string): string {
  return `arn:aws:sqs:${id.region}:${id.accountId}:${queue}`;
}

/** The queue name a QueueUrl names. A URL of another account, or no queue at all, is QueueDoesNotExist. */
export function queueFromUrl(url: string, id: SqsIdentity): string {
  let path: string;
  try {
    path = /^[a-z]+:\/\//i.test(url) ? new URL(url).pathname : url;
  } catch {
    throw invalidValue('QueueUrl', 'is not a URL.', url);
  }
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length !== 2 || parts[0] !== id.accountId || !isValidQueueName(parts[1])) {
    throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
  }
  return parts[1]!;
}

/** The queue name an ARN names (RedrivePolicy's deadLetterTargetArn, move-task ARNs). */
export function queueFromArn(arn: string, param: string, id: SqsIdentity): string {
  const m = /^arn:aws[a-z-]*:sqs:([^:]*):(\d{12}):([^:]+)$/.exec(arn);
  if (m === null || !isValidQueueName(m[3])) throw invalidValue(param, 'is not an Amazon SQS queue ARN.', arn);
  if (m[2] !== id.accountId) throw new SqsError('QueueDoesNotExist', `The queue of ${param} belongs to another account.`);
  return m[3]!;
}
