import { type EventBusOptions, resolveBusOptions } from './bus-options.js';
import type { EventContract, EventData, EventInput } from './contract.js';
import type { CloudEvent, EnvelopeOptions } from './envelope.js';
import { ConfigError, EventBusError } from './errors.js';
import type { Handler, HandleOptions, HandlerRegistration } from './handler.js';
import { createReceiver } from './pipeline.js';
import { type BuildOptions, type PublishEventOptions, Publisher } from './publisher.js';
import type { ScheduleOptions } from './schedule.js';
import { CANCELLATION_MARGIN_MS, DEFAULT_CANCELLATION_KEEP_MS } from './schedule-cancellations.js';
import { Router } from './router.js';
import { groupTopologies } from './topology.js';
import type { GroupTopology, OutgoingMessage, PublishOptions, Subscription, Transport } from './transport.js';

export type { EventBusOptions } from './bus-options.js';
export type { PublishEventOptions } from './publisher.js';

export interface BatchEntry<C extends EventContract = EventContract> {
  contract: C;
  data: EventInput<C>;
  /** Envelope options, and this entry's own `delay` / `deliverAt` (over the call's). */
  options?: EnvelopeOptions & ScheduleOptions;
}

/** Type-checks one entry of `publishBatch` against its contract. */
export function entry<C extends EventContract>(contract: C, data: EventInput<C>, options?: EnvelopeOptions & ScheduleOptions): BatchEntry<C> {
  return options === undefined ? { contract, data } : { contract, data, options };
}

export interface EventBus {
  readonly transport: Transport;
  readonly source: string;
  publish<C extends EventContract>(contract: C, data: EventInput<C>, options?: PublishEventOptions): Promise<CloudEvent<EventData<C>>>;
  /**
   * Validate all, then publish all in one transport call; resolves when every one is confirmed.
   * `delay` / `deliverAt` here schedule every entry for one time (an entry's own options win).
   */
  publishBatch(entries: readonly BatchEntry[], options?: PublishOptions & ScheduleOptions): Promise<CloudEvent[]>;
  /**
   * Cancel a scheduled event (`publish(…, { delay | deliverAt })`) by its id: when its time comes
   * it is acked without running, in every group. Needs the bus option `cancellations`. Pass the
   * event's time as `deliverAt` to keep the record no longer than needed (else 7 days).
   */
  cancelScheduled(id: string, options?: { deliverAt?: Date | number }): Promise<void>;
  /**
   * Validate, envelope and encode for this bus's transport and size limit exactly as `publish` does,
   * without sending: the message an outbox stores and later hands to `transport.publish`.
   */
  encode<C extends EventContract>(
    contract: C,
    data: EventInput<C>,
    options?: BuildOptions,
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

export function createEventBus(options: EventBusOptions): EventBus {
  const { transport, source, logger, onError, defaults, maxMessageBytes, maxDeferrals, cancellations, instrumentation } =
    resolveBusOptions(options);
  const contracts = new Map<string, EventContract>();
  const register = (contract: EventContract) => {
    const known = contracts.get(contract.type);
    if (known && known !== contract && (known.version !== contract.version || known.channel !== contract.channel)) {
      throw new ConfigError('contracts', `two different contracts for type "${contract.type}"`);
    }
    if (!known) contracts.set(contract.type, contract);
  };
  for (const c of options.contracts ?? []) register(c);

  let state: 'idle' | 'started' | 'stopping' | 'stopped' = 'idle';
  let stopping: Promise<void> | undefined;
  const subscriptions: Subscription[] = [];
  const assertCanPublish = () => {
    if (state === 'stopped') throw new EventBusError('the event bus is stopped');
  };
  const publisher = new Publisher({ transport, source, maxMessageBytes, instrumentation, register, assertCanPublish });
  const router = new Router({
    group: options.group ?? source,
    defaults,
    middleware: options.middleware ?? [],
    processMiddleware: instrumentation?.process?.({ transport: transport.name }),
    maxDelayMs: transport.capabilities.maxDelayMs,
    publisher,
    register,
  });
  /** Every group with handlers, as `start()` subscribes it and `provision()` declares it. */
  const topology = (): GroupTopology[] => groupTopologies(router.registrations, contracts.values());
  instrumentation?.attach?.({ transport, groups: () => [...new Set(router.registrations.map((r) => r.group))] });

  return {
    transport,
    source,
    registrations: router.registrations,
    contracts,

    async publish(contract, data, publishOptions = {}) {
      assertContract(contract);
      return (await publisher.publishOne(contract, data, publishOptions)) as CloudEvent<EventData<typeof contract>>;
    },

    publishBatch(entries, publishOptions = {}) {
      return publisher.publishBatch(entries, publishOptions);
    },

    async cancelScheduled(id, cancelOptions = {}) {
      if (cancellations === undefined) {
        throw new ConfigError('cancellations', 'cancelScheduled needs a store', {
          message:
            'bus.cancelScheduled() needs the bus option `cancellations` (new MemoryScheduleCancellations() in one process, ' +
            'RedisScheduleCancellations from @org/eventbus/redis across processes)',
        });
      }
      if (typeof id !== 'string' || id === '') throw new ConfigError('id', `must be the scheduled event's id (got ${JSON.stringify(id)})`);
      const at = cancelOptions.deliverAt;
      const atMs = at instanceof Date ? at.getTime() : at;
      if (atMs !== undefined && (typeof atMs !== 'number' || !Number.isFinite(atMs))) {
        throw new ConfigError('deliverAt', `must be a valid Date or ms since epoch (got ${String(at)})`);
      }
      const keepUntil = atMs === undefined ? Date.now() + DEFAULT_CANCELLATION_KEEP_MS : Math.max(Date.now(), atMs) + CANCELLATION_MARGIN_MS;
      await cancellations.cancel(id, keepUntil);
    },

    encode(contract, data, envelopeOptions) {
      return publisher.encode(contract, data, envelopeOptions) as { event: CloudEvent<EventData<typeof contract>>; message: OutgoingMessage };
    },

    handle(contract, handleOptions, handler) {
      if (state !== 'idle') throw new ConfigError('handle', 'register handlers before start()');
      return router.add(contract, handleOptions, handler);
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
        const routes = router.routesOf(group);
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
          transport: transport.name,
          instrumentation,
          maxDeferrals,
          ...(cancellations ? { cancellations } : {}),
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
}

/** A plain { type } (or nothing) would fail deep inside with "reading 'safeParse'": say what is expected. */
function assertContract(contract: unknown): void {
  if (typeof contract === 'object' && contract !== null && typeof (contract as Partial<EventContract>).schema?.safeParse === 'function') return;
  const type = (contract as { type?: unknown } | null)?.type;
  const got = typeof contract === 'object' && contract !== null ? `an object with no zod schema (type ${JSON.stringify(type)})` : String(contract);
  throw new ConfigError('contract', 'not a contract', {
    message: `publish() needs an event contract from defineEvent({ type, schema }) as its first argument; got ${got}`,
  });
}
