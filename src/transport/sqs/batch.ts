/** BatchResultErrorEntry (SQS API Reference, "BatchResultErrorEntry"). */
import type { SqsError } from './errors.js';

export function failedEntry(id: string, err: SqsError): Record<string, unknown> {
  return { Id: id, SenderFault: err.fault === 'Sender', Code: err.code, Message: err.message };
}
