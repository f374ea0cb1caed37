import type { BackoffOptions } from './backoff.js';
import { resolveBackoff } from './backoff.js';
import { encodeEvent } from './codec.js';
import { type EventContract, type EventData, type EventInput, parseData } from './contract.js';
import { type CloudEvent, createEnvelope, type EnvelopeOptions } from './envelope.js';
import { ConfigError, EventBusError, MessageTooLargeError, ValidationError } from './errors.js';
import type { Handler, HandlerContext, HandleOptions, HandlerRegistration } from './handler.js';
import { fitsIn, messageSize } from './headers.js';
import { Limiter } from './limiter.js';
import { consoleLogger, type Logger, safeLogger } from './logger.js';
import { deadLetter } from './middleware/dead-letter.js';
import { retry } from './middleware/retry.js';
import { timeout } from './middleware/timeout.js';
import { compose, type MessageContext, type Middleware } from './middleware/types.js';
import { createReceiver, type Emitter, type Route } from './pipeline.js';
import type { Instrumentation, SendScope } from './tracing/hooks.js';
import { groupTopologies } from './topology.js';
import type { GroupTopology, OutgoingMessage, PublishOptions, Subscription, Transport } from './transport.js';

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

export interface PublishEventOptions extends EnvelopeOptions, PublishOptions {}

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

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_BODY = new Uint8Array(0);

/** A message for a transport that carries the event object itself: nothing encoded, nothing to size. */
function carried(channel: string, event: CloudEvent): OutgoingMessage {
  return { channel, id: event.id, headers: NO_HEADERS, body: NO_BODY, event };
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
  const carriesEvents = transport.capabilities.carriesEvents === true;
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

  function toMessage(contract: EventContract, data: unknown, envelopeOptions: EnvelopeOptions = {}, cause?: MessageContext) {
    const parsed = parseData(contract, data);
    if (!parsed.ok) throw new ValidationError(contract.type, parsed.issues);
    register(contract);
    const scope = instrumentation?.send?.({
      contract,
      channel: contract.channel,
      transport: transport.name,
      options: envelopeOptions,
      ...(cause ? { cause } : {}),
    });
    try {
      const event = createEnvelope(contract.type, contract.version, source, parsed.data, scope?.options ?? envelopeOptions);
      const message = carriesEvents ? carried(contract.channel, event) : encoded(contract, event);
      if (event.partitionkey !== undefined) message.key = event.partitionkey;
      return { event, message, scope };
    } catch (error) {
      // A send span opened for an event that never left must still end, with the reason.
      scope?.end({ error });
      throw error;
    }
  }

  function encoded(contract: EventContract, event: CloudEvent): OutgoingMessage {
    const { headers, body } = encodeEvent(event, transport.capabilities.encoding);
    const message: OutgoingMessage = { channel: contract.channel, id: event.id, headers, body };
    if (!fitsIn(message, maxMessageBytes)) {
      throw new MessageTooLargeError(messageSize(message), maxMessageBytes, `event "${contract.type}"`);
    }
    return message;
  }

  /** Publish built messages and tell each instrumentation scope how it went. */
  async function send(built: { event: CloudEvent; message: OutgoingMessage; scope: SendScope | undefined }[], publishOptions: PublishOptions) {
    try {
      await transport.publish(built.map((b) => b.message), publishOptions);
    } catch (error) {
      for (const b of built) b.scope?.end({ event: b.event, error });
      throw error;
    }
    for (const b of built) b.scope?.end({ event: b.event });
  }

  async function publishOne(contract: EventContract, data: unknown, publishOptions: PublishEventOptions, cause?: MessageContext) {
    assertCanPublish();
    const { signal, ...envelopeOptions } = publishOptions;
    const built = toMessage(contract, data, envelopeOptions, cause);
    await send([built], signal ? { signal } : {});
    return built.event;
  }

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
      return (await publishOne(contract, data, publishOptions)) as CloudEvent<EventData<typeof contract>>;
    },

    async publishBatch(entries, publishOptions = {}) {
      assertCanPublish();
      const built: ReturnType<typeof toMessage>[] = [];
      try {
        for (const e of entries) built.push(toMessage(e.contract, e.data, e.options));
      } catch (error) {
        // One bad entry publishes nothing: close the spans already opened for the others.
        for (const b of built) b.scope?.end({ event: b.event, error });
        throw error;
      }
      if (built.length > 0) await send(built, publishOptions);
      return built.map((b) => b.event);
    },

    handle(contract, handleOptions, handler) {
      if (state !== 'idle') throw new ConfigError('handle', 'register handlers before start()');
      const group = handleOptions.group ?? options.group ?? source;
      const maxAttempts = positiveInt('maxAttempts', handleOptions.maxAttempts, defaults.maxAttempts);
      const concurrency = positiveInt('concurrency', handleOptions.concurrency, defaults.concurrency);
      const timeoutMs = handleOptions.timeout ?? defaults.timeout;
      const emits = handleOptions.emits ?? [];
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
        emit: emitterFor(registration),
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

  /** What `ctx.emit` does for one registration; the declared set is computed once, not per delivery. */
  function emitterFor(registration: HandlerRegistration): Emitter {
    const declared = new Set(registration.emits.map((e) => e.type));
    return (ctx, contract, data, emitOptions = {}) => {
      if (!declared.has(contract.type)) {
        return Promise.reject(
          new ConfigError('emits', `handler "${registration.name}" emitted "${contract.type}" but declares only [${[...declared].join(', ')}]`),
        );
      }
      const incoming = ctx.event;
      const chainOptions: PublishEventOptions = {
        ...emitOptions,
        causationId: incoming.id,
        correlationId: incoming.correlationid ?? incoming.id,
      };
      if (incoming.traceparent !== undefined) chainOptions.traceparent = incoming.traceparent;
      if (incoming.tracestate !== undefined) chainOptions.tracestate = incoming.tracestate;
      return publishOne(contract, data, chainOptions, ctx);
    };
  }

  return bus;
}
