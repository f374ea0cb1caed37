import type { BackoffOptions } from './backoff.js';
import { resolveBackoff } from './backoff.js';
import type { Middleware } from './context.js';
import type { EventContract } from './contract.js';
import { ConfigError } from './errors.js';
import { flatString } from './event-id.js';
import { consoleLogger, type Logger, safeLogger } from './logger.js';
import { wholeNumber } from './option-checks.js';
import type { HandlerDefaults } from './router.js';
import { combineInstrumentation } from './observe/combine.js';
import type { ScheduleCancellations } from './schedule-cancellations.js';
import type { Instrumentation } from './tracing/hooks.js';
import type { Transport } from './transport.js';

export interface EventBusOptions {
  transport: Transport;
  /** CloudEvents `source` of everything this bus publishes, e.g. "/services/ec2-api". */
  source: string;
  /** Default consumer group for handlers that name none; defaults to `source`. */
  group?: string;
  /** Types this bus can decode besides the ones it handles or publishes. */
  contracts?: readonly EventContract[];
  /** Middleware around every handler, outermost first (inside retry and dead-letter). */
  middleware?: readonly Middleware[];
  /**
   * Where the bus logs (a pino logger fits). Default `consoleLogger('warn')`: one redacted line on
   * stderr per dead letter, given-up retry and subscription error (lost connection, failed settle);
   * info and debug stay silent. Pass `silentLogger` for none.
   */
  logger?: Logger;
  /** Subscription and settle errors; they never become unhandled rejections. */
  onError?: (error: Error, context: { group: string; eventId?: string; settle?: string }) => void;
  /** Largest message accepted on either side; defaults to the transport's limit. */
  maxMessageBytes?: number;
  defaults?: { maxAttempts?: number; backoff?: Partial<BackoffOptions>; timeout?: number; concurrency?: number };
  /**
   * Observers around publish and handling, e.g. `tracing({ api })` for OpenTelemetry spans, or a list
   * (`[tracing({ api }), createMetrics({ api })]`), the first outermost: metrics after tracing then
   * record inside the spans.
   */
  instrumentation?: Instrumentation | readonly Instrumentation[];
  /** `ctx.retryAfter` / `RetryLaterError`: deferrals per event before it is dead-lettered (default 100). */
  retryLater?: { maxDeferrals?: number };
  /**
   * Where `bus.cancelScheduled(id)` records cancellations of scheduled events: a
   * `MemoryScheduleCancellations` (one process) or `RedisScheduleCancellations` (shared). Without
   * it `cancelScheduled` throws.
   */
  cancellations?: ScheduleCancellations;
}

export type BusErrorContext = { group: string; eventId?: string; settle?: string };

/** The options of `createEventBus`, checked, with their defaults filled in. */
export function resolveBusOptions(options: EventBusOptions) {
  if (!options?.transport) throw new ConfigError('transport', 'is required (createTransport(url) makes one)');
  if (typeof options.source !== 'string' || options.source === '') throw new ConfigError('source', 'is required, e.g. "/services/orders"');
  const { transport } = options;
  const logger = safeLogger(options.logger ?? consoleLogger('warn'));
  const defaults: HandlerDefaults = {
    maxAttempts: wholeNumber('defaults.maxAttempts', options.defaults?.maxAttempts, 5),
    concurrency: wholeNumber('defaults.concurrency', options.defaults?.concurrency, 10),
    backoff: resolveBackoff(options.defaults?.backoff, 'defaults.backoff'),
    timeout: options.defaults?.timeout,
  };
  const maxMessageBytes = options.maxMessageBytes ?? transport.capabilities.maxMessageBytes;
  if (!(maxMessageBytes > 0)) throw new ConfigError('maxMessageBytes', `must be positive (got ${maxMessageBytes})`);
  /** Logged once (the bus's one line per error), then handed to the caller's `onError`. */
  const onError = (error: Error, context: BusErrorContext) => {
    logger.error({ ...context, transport: transport.name, err: error }, 'eventbus error');
    options.onError?.(error, context);
  };
  const maxDeferrals = wholeNumber('retryLater.maxDeferrals', options.retryLater?.maxDeferrals, 100, { min: 0 });
  const { cancellations } = options;
  if (cancellations !== undefined && (typeof cancellations.cancel !== 'function' || typeof cancellations.isCancelled !== 'function')) {
    throw new ConfigError('cancellations', 'must be a ScheduleCancellations store (MemoryScheduleCancellations or RedisScheduleCancellations)');
  }
  const instrumentation = isList(options.instrumentation) ? combineInstrumentation(options.instrumentation) : options.instrumentation;
  return { transport, source: flatString(options.source), logger, onError, defaults, maxMessageBytes, maxDeferrals, cancellations, instrumentation };
}

function isList(value: Instrumentation | readonly Instrumentation[] | undefined): value is readonly Instrumentation[] {
  return Array.isArray(value);
}
