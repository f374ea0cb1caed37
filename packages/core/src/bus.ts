import type { BackoffOptions } from './backoff.js';
import { resolveBackoff } from './backoff.js';
import type { EventContract, EventData, EventInput } from './contract.js';
import type { CloudEvent, EnvelopeOptions } from './envelope.js';
import { ConfigError, EventBusError } from './errors.js';
import type { Handler, HandlerContext, HandleOptions, HandlerRegistration } from './handler.js';
import { Limiter } from './limiter.js';
import { consoleLogger, type Logger, safeLogger } from './logger.js';
import { deadLetter } from './middleware/dead-letter.js';
import { retry } from './middleware/retry.js';
import { timeout } from './middleware/timeout.js';
import { compose, type Middleware } from './middleware/types.js';
import { oneOf } from './option-checks.js';
import { createReceiver, type Route } from './pipeline.js';
import { type PublishEventOptions, Publisher } from './publisher.js';
import type { Instrumentation } from './tracing/hooks.js';
import { groupTopologies } from './topology.js';
import type { GroupTopology, OutgoingMessage, PublishOptions, Subscription, Transport } from './transport.js';

export type { PublishEventOptions } from './publisher.js';

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
  /** Observers around publish and handling, e.g. `tracing({ api })` for OpenTelemetry spans. */
  instrumentation?: Instrumentation;
}


export interface BatchEntry<C extends EventContract = EventContract> {
  contract: C;
  data: EventInput<C>;
  options?: EnvelopeOptions;
}

/** Type-checks one entry of `publishBatch` against its contract. */
export function entry<C extends EventContract>(contract: C, data: EventInput<C>, options?: EnvelopeOptions): BatchEntry<C> {
  return options === undefined ? { contract, data } : { contract, data, options };
}

export interface EventBus {
  readonly transport: Transport;
  readonly source: string;
  publish<C extends EventContract>(contract: C, data: EventInput<C>, options?: PublishEventOptions): Promise<CloudEvent<EventData<C>>>;
  /** Validate all, then publish all in one transport call; resolves when every one is confirmed. */
  publishBatch(entries: readonly BatchEntry[], options?: PublishOptions): Promise<CloudEvent[]>;
  /**
   * Validate, envelope and encode for this bus's transport and size limit exactly as `publish` does,
   * without sending: the message an outbox stores and later hands to `transport.publish`.
   */
  encode<C extends EventContract>(
    contract: C,
    data: EventInput<C>,
    options?: EnvelopeOptions,
  ): { event: CloudEvent<EventData<C>>; message: OutgoingMessage };
  handle<C extends EventContract, const TEmits extends readonly EventContract[] = readonly []>(
    contract: C,
    options: HandleOptions<TEmits>,
    handler: Handler<C, TEmits[number]>,
  ): HandlerRegistration;
  /** Every handler registered so far (the event graph reads this). */
  readonly registrations: readonly HandlerRegistration[];
  /** Every contract the bus knows. */
  readonly contracts: ReadonlyMap<string, EventContract>;
  /**
   * Declare on the broker every group this bus has handlers for (queues, bindings, durable
   * consumers, subscriptions: what `start()` would create), without consuming, so events published
   * before the first worker starts are kept. Idempotent; run it at deploy time (`eventbus provision`).
   */
  provision(): Promise<void>;
  start(): Promise<void>;
  /** Stop taking deliveries, let in-flight handlers finish and settle, then close the transport. */
  stop(): Promise<void>;
}

function positiveInt(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(option, `must be a whole number ≥ 1 (got ${String(value)})`);
  return value;
}

export function createEventBus(options: EventBusOptions): EventBus {
  if (!options?.transport) throw new ConfigError('transport', 'is required (createTransport(url) makes one)');
  if (typeof options.source !== 'string' || options.source === '') throw new ConfigError('source', 'is required, e.g. "/services/orders"');
  const { transport, source } = options;
  const logger = safeLogger(options.logger ?? consoleLogger('warn'));
  const onError = (error: Error, context: { group: string; eventId?: string; settle?: string }) => {
    logger.error({ ...context, transport: transport.name, err: error }, 'eventbus error');
    options.onError?.(error, context);
  };
  const defaults = {
    maxAttempts: positiveInt('defaults.maxAttempts', options.defaults?.maxAttempts, 5),
    concurrency: positiveInt('defaults.concurrency', options.defaults?.concurrency, 10),
    backoff: resolveBackoff(options.defaults?.backoff, 'defaults.backoff'),
    timeout: options.defaults?.timeout,
  };
  const maxMessageBytes = options.maxMessageBytes ?? transport.capabilities.maxMessageBytes;
  if (!(maxMessageBytes > 0)) throw new ConfigError('maxMessageBytes', `must be positive (got ${maxMessageBytes})`);

  const contracts = new Map<string, EventContract>();
  const register = (contract: EventContract) => {
    const known = contracts.get(contract.type);
    if (known && known !== contract && (known.version !== contract.version || known.channel !== contract.channel)) {
      throw new ConfigError('contracts', `two different contracts for type "${contract.type}"`);
    }
    if (!known) contracts.set(contract.type, contract);
  };
  for (const c of options.contracts ?? []) register(c);

  const groups = new Map<string, Map<string, Route>>();
  const registrations: HandlerRegistration[] = [];
  const subscriptions: Subscription[] = [];
  let state: 'idle' | 'started' | 'stopping' | 'stopped' = 'idle';
  let stopping: Promise<void> | undefined;

  const instrumentation = options.instrumentation;
  const processMiddleware = instrumentation?.process?.({ transport: transport.name });
  const publisher = new Publisher({ transport, source, maxMessageBytes, instrumentation, register, assertCanPublish });

  /** Every group with handlers, as `start()` subscribes it and `provision()` declares it. */
  function topology(): GroupTopology[] {
    return groupTopologies(registrations, contracts.values());
  }

  function assertCanPublish() {
    if (state === 'stopped') throw new EventBusError('the event bus is stopped');
  }

  const bus: EventBus = {
    transport,
    source,
    registrations,
    contracts,

    async publish(contract, data, publishOptions = {}) {
      // A plain { type } (or nothing) would fail deep inside with "reading 'safeParse'": say what is expected.
      if (typeof contract !== 'object' || contract === null || typeof contract.schema?.safeParse !== 'function') {
        const type = (contract as { type?: unknown } | null)?.type;
        const got = typeof contract === 'object' && contract !== null ? `an object with no zod schema (type ${JSON.stringify(type)})` : String(contract);
        throw new ConfigError('contract', 'not a contract', {
          message: `publish() needs an event contract from defineEvent({ type, schema }) as its first argument; got ${got}`,
        });
      }
      return (await publisher.publishOne(contract, data, publishOptions)) as CloudEvent<EventData<typeof contract>>;
    },

    publishBatch(entries, publishOptions = {}) {
      return publisher.publishBatch(entries, publishOptions);
    },

    encode(contract, data, envelopeOptions) {
      return publisher.encode(contract, data, envelopeOptions) as { event: CloudEvent<EventData<typeof contract>>; message: OutgoingMessage };
    },

    handle(contract, handleOptions, handler) {
      if (state !== 'idle') throw new ConfigError('handle', 'register handlers before start()');
      const group = handleOptions.group ?? options.group ?? source;
      const maxAttempts = positiveInt('maxAttempts', handleOptions.maxAttempts, defaults.maxAttempts);
      const concurrency = positiveInt('concurrency', handleOptions.concurrency, defaults.concurrency);
      const timeoutMs = handleOptions.timeout ?? defaults.timeout;
      const emits = handleOptions.emits ?? [];
      const emitTiming = oneOf('emit', handleOptions.emit, ['after-success', 'immediate'], 'after-success');
      register(contract);
      for (const e of emits) register(e);
      let routes = groups.get(group);
      if (!routes) {
        routes = new Map();
        groups.set(group, routes);
      }
      if (routes.has(contract.type)) {
        throw new ConfigError('group', `group "${group}" already has a handler for "${contract.type}"`);
      }
      const registration: HandlerRegistration = {
        name: handleOptions.name ?? `${group}:${contract.type}`,
        contract,
        group,
        emits,
        maxAttempts,
        concurrency,
      };
      const chain = compose(
        [
          ...(processMiddleware ? [processMiddleware] : []),
          deadLetter(),
          retry({ maxAttempts, backoff: handleOptions.backoff ?? defaults.backoff, maxDelayMs: transport.capabilities.maxDelayMs }),
          // Inside retry, so a failed flush is retried like a failed handler.
          ...(emitTiming === 'after-success' ? [publisher.holdEmits()] : []),
          ...(options.middleware ?? []),
          ...(handleOptions.middleware ?? []),
          ...(timeoutMs === undefined ? [] : [timeout(timeoutMs)]),
        ],
        (ctx) => Promise.resolve(handler(ctx.event as never, ctx as HandlerContext<never>)),
      );
      routes.set(contract.type, {
        registration,
        chain,
        limiter: new Limiter(concurrency),
        emit: publisher.emitterFor(registration, emitTiming),
      });
      registrations.push(registration);
      return registration;
    },

    async provision() {
      if (state === 'stopping' || state === 'stopped') throw new EventBusError(`provision() called on a bus that is ${state}`);
      const groupsToDeclare = topology();
      if (groupsToDeclare.length === 0) return;
      await transport.connect();
      await transport.provision(groupsToDeclare);
      logger.info({ groups: groupsToDeclare.map((g) => g.group), transport: transport.name }, 'provisioned');
    },

    async start() {
      if (state !== 'idle') throw new EventBusError(`start() called on a bus that is ${state}`);
      state = 'started';
      await transport.connect();
      for (const { group, channels, types } of topology()) {
        const routes = groups.get(group);
        if (!routes) continue;
        const prefetch = [...routes.values()].reduce((sum, r) => sum + r.registration.concurrency, 0);
        const receive = createReceiver({
          group,
          encoding: transport.capabilities.encoding,
          maxMessageBytes,
          contracts,
          routes,
          logger,
          onError,
        });
        const subscription = await transport.subscribe(
          { group, channels, ...(types ? { types } : {}), prefetch, onError: (error) => onError(error, { group }) },
          (delivery) => receive(delivery),
        );
        subscriptions.push(subscription);
        logger.info({ group, channels, transport: transport.name }, 'subscribed');
      }
    },

    stop() {
      stopping ??= (async () => {
        state = 'stopping';
        await Promise.all(subscriptions.map((s) => s.close()));
        await transport.close();
        state = 'stopped';
        logger.info({ transport: transport.name }, 'stopped');
      })();
      return stopping;
    },
  };

  return bus;
}
