export { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export {
  type BatchEntry,
  createEventBus,
  type EventBus,
  type EventBusOptions,
  entry,
  type PublishEventOptions,
} from './bus.js';
export { decodeEvent, type EncodedEvent, encodeBinary, encodeEvent, encodeStructured } from './codec.js';
export {
  defineEvent,
  type EventContract,
  type EventData,
  type EventDefinition,
  type EventInput,
  parseData,
} from './contract.js';
export type { EventbusAdapter } from './adapter.js';
export { type Command, type CommandIo, processIo } from './cli/command.js';
export { flag, matching, oneOf, positiveNumber, wholeNumber } from './option-checks.js';
export { type CreateTransportOptions, createTransport } from './create-transport.js';
export {
  type CloudEvent,
  type CloudEventAttributes,
  CONTEXT_ATTRIBUTES,
  createEnvelope,
  type EnvelopeOptions,
  JSON_CONTENT_TYPE,
  STRUCTURED_CONTENT_TYPE,
} from './envelope.js';
export {
  ConfigError,
  CoordinationUnavailableError,
  EventBusError,
  errorMessage,
  HandlerTimeoutError,
  MessageTooLargeError,
  NonRetryableError,
  PoisonMessageError,
  type PoisonReason,
  RetryLaterError,
  TransportError,
  UnroutableError,
  ValidationError,
  type ValidationIssue,
} from './errors.js';
export type { EmitOptions, Event, Handler, HandlerContext, HandleOptions, HandlerRegistration } from './handler.js';
export { attemptFromHeaders, deadLetterHeaders, deferHeaders, deferralsFromHeaders, EventbusHeaders, fitsIn, messageSize, nextAttemptHeaders } from './headers.js';
export { CLOCK_TOLERANCE_MS, deliverAtOf, heldUntil, type ScheduleOptions, scheduledTime } from './schedule.js';
export { MemoryScheduleCancellations, type ScheduleCancellations } from './schedule-cancellations.js';
export { type ConsoleLoggerOptions, consoleLogger, type Logger, safeLogger, silentLogger } from './logger.js';
export { refuseSettles, resetMemoryBrokers } from './memory/broker.js';
export type { MemoryTransportOptions } from './memory/options.js';
export { MemoryTransport } from './memory/transport.js';
export {
  DeliveryTracker,
  type DeliveryTrackerOptions,
  HANDLER_FAILURE_DELAY_MS,
  type SettleActions,
  type TrackedDelivery,
} from './delivery-tracker.js';
export { type ConcurrencyOptions, concurrency } from './middleware/concurrency.js';
export { deadLetter } from './middleware/dead-letter.js';
export { type DeadLetter, type DeadLetterFilter, readDeadLetter, redriveHeaders } from './dead-letters/dead-letter.js';
export {
  type DeadLetters,
  deadLetters,
  type ListOptions as DeadLetterListOptions,
  type MoveOptions as DeadLetterMoveOptions,
  type MoveResult as DeadLetterMoveResult,
  noDeadLetterQueue,
  type RedriveOptions as DeadLetterRedriveOptions,
} from './dead-letters/dead-letters.js';
export { type IdempotencyOptions, idempotency } from './middleware/idempotency.js';
export { type LockOptions, lock } from './middleware/lock.js';
export { RATE_LIMIT_STARTED_AT, type RateLimitOptions, rateLimit } from './middleware/rate-limit.js';
export { RetriesExhaustedError, type RetryOptions, retry } from './middleware/retry.js';
export { timeout } from './middleware/timeout.js';
export { compose, type HeldEmit, type HeldEmits, type MessageContext, type Middleware, type Next, watchHandBack } from './context.js';
export { hideSecrets, redact, redactError, redactValue } from './redact.js';
export { groupTopologies, type HandledBy } from './topology.js';
export { checkSubscribeOptions, optionsFromQuery, PendingWork, type QueryOptionKind } from './transport-support.js';
export type {
  Backlog,
  DeadLetterAction,
  DeadLetterVisitor,
  Delivery,
  DeliveryHandler,
  GroupTopology,
  NackOptions,
  OutgoingMessage,
  PublishOptions,
  ReceivedMessage,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportCapabilities,
  WireEncoding,
} from './transport.js';
// Coordination: the middleware above, the store contracts, the one-process stores and the lease guard's
// error. Redis stores for many processes live in `@org/eventbus/redis`.
export { type KeyOption, LeaseLostError } from './coordination/guard.js';
export { MemoryIdempotencyStore, MemoryLockStore, MemoryRateLimitStore, MemorySemaphoreStore } from './coordination/memory-stores.js';
export type {
  ClaimResult,
  IdempotencyStore,
  Lease,
  LockStore,
  RateClaim,
  RateLimitStore,
  RateWindow,
  ReleaseNotifier,
  Reservation,
  SemaphoreStore,
} from './coordination/stores.js';
// chains, graph, docs, tracing
export {
  buildEventGraph,
  type DescribeOptions,
  declarePublisher,
  defineRegistry,
  describeApp,
  type EventGraph,
  type EventNode,
  type EventRef,
  type EventRegistry,
  type Finding,
  type FindingCode,
  type HandlerDeclaration,
  type HandlerNode,
  type Publisher,
  type PublisherDeclaration,
  type PublisherNode,
  type PublisherOptions,
  publishersOf,
  type RegistryInput,
  registryFromModule,
} from './graph/index.js';
export { DOC_FILES, type GeneratedDocs, generateDocs, mermaidFlowchart, renderAsyncApi, renderHtml, renderMarkdown, staleDocs, writeDocs } from './docs/index.js';
export { PROCESS_SPAN, tracingMiddleware } from './tracing/process.js';
export type {
  BusInfo,
  DeliveryOutcome,
  Instrumentation,
  PublishInfo,
  PublishScope,
  ReceiveInfo,
  ReceiveScope,
  SendInfo,
  SendScope,
} from './tracing/hooks.js';
export { combineInstrumentation } from './observe/combine.js';
export {
  type BusListener,
  type DeliveryEndObservation,
  type DeliveryStartObservation,
  observeBus,
  type PublishObservation,
} from './observe/observe-bus.js';
export type { OtelApi, OtelContext, OtelSpan, OtelSpanContext, OtelTracer } from './tracing/otel.js';
export { loadTracing, processSpanOf, type TracingOptions, tracing } from './tracing/tracing.js';
export { createMetrics, loadMetrics, type MetricsOptions } from './metrics/metrics.js';
export { METRIC, METRIC_ATTR } from './metrics/instruments.js';
export type { OtelCounter, OtelHistogram, OtelMeter, OtelMeterProvider, OtelMetricsApi, OtelObservable } from './metrics/otel-metrics.js';
