/** Ferry client SDK. */
export { connect, FerryClient } from './client.js';
export type { ClientEvents, CreateQueueOptions, ListQueuesOptions, RequestCallOptions } from './client.js';
export { QueueClient } from './queue.js';
export type { ReceiveOptions, SendBatchEntry, SendOptions } from './queue.js';
export { Subscription } from './subscription.js';
export type { MessagesHandler, SubscribeOptions } from './subscription.js';
export { Consumer } from './consumer.js';
export type { ConsumeOptions, ConsumerStats, MessageHandler } from './consumer.js';
export type { BackoffOptions, ConnectOptions, FerryLogger } from './options.js';
export type { RetryOptions, SendRetry } from './retry.js';
export type { ConnectionState, DisconnectInfo, ReconnectInfo } from './connection.js';
export type { Body } from './body.js';
export { ErrorCodes, FerryError, isRetryable } from '../protocol/errors.js';
export type { ErrorCode, WireError } from '../protocol/errors.js';
export type {
  BatchEntryResult, DeliveredMessage, MessageAttributes, OpArgs, OpName, OpResult, Ops,
  QueueAttributes, QueueStats, SendEntry, SendResult, DeadLetterTarget, DeadLetterInfo, DeadLetterReason, NackResult,
  OverflowPolicy, Ordering, QueueMode, RedriveTask, StreamGroupInfo, StreamPosition,
} from '../protocol/ops.js';
