/** Protocol limits and defaults. One place, so the server, the client and the docs agree. */
export const Limits = {
  queueNameMaxLength: 80,
  /** Default and ceiling of a queue's maxMessageBytes. */
  defaultMaxMessageBytes: 256 * 1024,
  maxMessageBytesCeiling: 1024 * 1024,
  /** Entries in sendBatch / deleteBatch / deleteReceipts. */
  maxBatchEntries: 1000,
  /** Characters of a receipt (ASCII): deleteReceipts carries its receipts back to back, this many bytes each. */
  receiptChars: 32,
  /** Sum of body bytes in one sendBatch. */
  maxBatchBytes: 8 * 1024 * 1024,
  /** Largest WebSocket message the server reads; past it the socket is closed (1009). */
  maxFrameBytes: 16 * 1024 * 1024,
  /** receive: messages per call. */
  maxReceive: 1000,
  /**
   * Body bytes past which one receive answer (or one push) takes no further message: with big
   * bodies a receive gets fewer than `max`, so that no answer outgrows what a client reads in one
   * WebSocket message (1000 × 1 MiB would be a 1 GiB frame). The last message taken may cross it.
   */
  maxDeliveryBytes: 8 * 1024 * 1024,
  /** Long-poll wait ceiling, as SQS. */
  maxWaitMs: 20_000,
  /** Visibility timeout ceiling, as SQS (12 h). */
  maxVisibilityMs: 12 * 60 * 60 * 1000,
  defaultVisibilityMs: 30_000,
  /** Delivery delay ceiling, as SQS (15 min). */
  maxDelayMs: 15 * 60 * 1000,
  /** Queue retention bounds (as SQS): 1 minute to 14 days; default 4 days. */
  minRetentionMs: 60_000,
  maxRetentionMs: 14 * 24 * 60 * 60 * 1000,
  /** maxReceives of a dead-letter policy (SQS allows 1..1000). */
  maxReceivesCeiling: 1000,
  /** maxLength / maxBytes ceilings (0 = no limit). */
  maxLengthCeiling: 1_000_000_000,
  maxBytesCeiling: 1024 * 1024 * 1024 * 1024,
  /** Dedup window ceiling (1 day) and default when ordering is strict (5 min, as SQS FIFO). */
  maxDedupWindowMs: 24 * 60 * 60 * 1000,
  defaultStrictDedupWindowMs: 5 * 60 * 1000,
  /** Ordering window ceiling. */
  maxOrderingWindowMs: 60_000,
  /** groupId, dedupId and producer: 1..128 characters. */
  maxIdLength: 128,
  /** Redrive rate ceiling, messages per second (default 500). */
  maxRedriveRate: 100_000,
  defaultRedriveRate: 500,
  /** Push credit a subscription may hold at once. */
  maxCredit: 100_000,
  /** listQueues page size. */
  maxListLimit: 1000,
  /** Message attributes per message, and their key/value sizes. */
  maxMessageAttributes: 32,
  maxAttributeKeyLength: 256,
  maxAttributeValueLength: 4096,
  /** Requests a connection may have outstanding. */
  maxInFlightPerConnection: 100_000,
} as const;

export const QUEUE_NAME_RE = /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/;

export function isValidQueueName(name: unknown): boolean {
  return typeof name === 'string' && QUEUE_NAME_RE.test(name) && name.replace(/\.fifo$/, '').length <= Limits.queueNameMaxLength;
}
