/**
 * SQS errors: the code each protocol shows, and the HTTP status.
 *
 * Statuses and query codes are the ones of the SQS service model (its `awsQueryError` traits, as
 * shipped in @aws-sdk/client-sqs's schemas) and of the "Common Errors" page of the SQS API
 * Reference. In the JSON protocol the error is `{"__type": "com.amazonaws.sqs#<Code>", "message"}`
 * plus the header `x-amzn-query-error: <QueryCode>;Sender|Receiver`; in the query protocol it is an
 * XML ErrorResponse whose `<Code>` is the query code.
 */
export const SqsErrors = {
  // Modelled errors of the API (name → [query code, status]).
  BatchEntryIdsNotDistinct: ['AWS.SimpleQueueService.BatchEntryIdsNotDistinct', 400],
  BatchRequestTooLong: ['AWS.SimpleQueueService.BatchRequestTooLong', 400],
  EmptyBatchRequest: ['AWS.SimpleQueueService.EmptyBatchRequest', 400],
  InvalidAddress: ['InvalidAddress', 404],
  InvalidAttributeName: ['InvalidAttributeName', 400],
  InvalidAttributeValue: ['InvalidAttributeValue', 400],
  InvalidBatchEntryId: ['AWS.SimpleQueueService.InvalidBatchEntryId', 400],
  InvalidIdFormat: ['InvalidIdFormat', 400],
  InvalidMessageContents: ['InvalidMessageContents', 400],
  InvalidSecurity: ['InvalidSecurity', 403],
  MessageNotInflight: ['AWS.SimpleQueueService.MessageNotInflight', 400],
  OverLimit: ['OverLimit', 403],
  PurgeQueueInProgress: ['AWS.SimpleQueueService.PurgeQueueInProgress', 403],
  QueueDeletedRecently: ['AWS.SimpleQueueService.QueueDeletedRecently', 400],
  QueueDoesNotExist: ['AWS.SimpleQueueService.NonExistentQueue', 400],
  QueueNameExists: ['QueueAlreadyExists', 400],
  ReceiptHandleIsInvalid: ['ReceiptHandleIsInvalid', 404],
  RequestThrottled: ['RequestThrottled', 403],
  ResourceNotFoundException: ['ResourceNotFoundException', 404],
  TooManyEntriesInBatchRequest: ['AWS.SimpleQueueService.TooManyEntriesInBatchRequest', 400],
  UnsupportedOperation: ['AWS.SimpleQueueService.UnsupportedOperation', 400],
  // Common errors (SQS API Reference, "Common Errors").
  AccessDeniedException: ['AccessDenied', 400],
  IncompleteSignature: ['IncompleteSignature', 400],
  InternalFailure: ['InternalFailure', 500],
  InvalidAction: ['InvalidAction', 400],
  InvalidClientTokenId: ['InvalidClientTokenId', 403],
  InvalidParameterValue: ['InvalidParameterValue', 400],
  InvalidQueryParameter: ['InvalidQueryParameter', 400],
  MalformedQueryString: ['MalformedQueryString', 404],
  MissingAction: ['MissingAction', 400],
  MissingAuthenticationToken: ['MissingAuthenticationToken', 403],
  MissingParameter: ['MissingParameter', 400],
  RequestExpired: ['RequestExpired', 400],
  ServiceUnavailable: ['ServiceUnavailable', 503],
  SignatureDoesNotMatch: ['SignatureDoesNotMatch', 403],
  ValidationError: ['ValidationError', 400],
  SerializationException: ['SerializationException', 400],
  UnknownOperationException: ['InvalidAction', 400],
  RequestEntityTooLarge: ['RequestEntityTooLarge', 413],
} as const satisfies Record<string, readonly [string, number]>;

export type SqsErrorCode = keyof typeof SqsErrors;

export class SqsError extends Error {
  override readonly name = 'SqsError';
  readonly code: SqsErrorCode;
  readonly status: number;
  /** The code of the query protocol (and the `x-amzn-query-error` header). */
  readonly queryCode: string;
  /** Sender (client) or Receiver (server) fault. */
  readonly fault: 'Sender' | 'Receiver';

  constructor(code: SqsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    const [queryCode, status] = SqsErrors[code];
    this.queryCode = queryCode;
    this.status = status;
    this.fault = status >= 500 ? 'Receiver' : 'Sender';
  }
}

/** The wording SQS uses for a bad parameter value. */
export function invalidValue(parameter: string, reason: string, value?: unknown): SqsError {
  const shown = value === undefined ? '' : `Value ${typeof value === 'string' ? value.slice(0, 100) : JSON.stringify(value)} for parameter ${parameter} is invalid. `;
  return new SqsError('InvalidParameterValue', `${shown || `Invalid value for the parameter ${parameter}. `}Reason: ${reason}`);
}

export function missingParameter(parameter: string): SqsError {
  return new SqsError('MissingParameter', `The request must contain the parameter ${parameter}.`);
}
