import { decodeEvent } from './codec.js';
import { type EventContract, parseData } from './contract.js';
import type { CloudEvent } from './envelope.js';
import { errorMessage, PoisonMessageError } from './errors.js';
import type { HandlerRegistration } from './handler.js';
import { fitsIn, messageSize } from './headers.js';
import type { Limiter } from './limiter.js';
import type { Logger } from './logger.js';
import type { MessageContext, Next } from './middleware/types.js';
import type { Delivery, NackOptions, WireEncoding } from './transport.js';

/** A handler of one type inside a group, with its middleware chain already composed. */
export interface Route {
  readonly registration: HandlerRegistration;
  readonly chain: Next;
  readonly limiter: Limiter;
  /** Builds the handler-facing context (adds `emit`) around the message context. */
  readonly extend: (ctx: MessageContext) => MessageContext;
}

export interface ReceiverOptions {
  group: string;
  encoding: WireEncoding;
  maxMessageBytes: number;
  /** Every type the bus knows; an unknown one is poison. */
  contracts: ReadonlyMap<string, EventContract>;
  /** Types this group handles; a known type without a route here shares a channel and is acked. */
  routes: ReadonlyMap<string, Route>;
  logger: Logger;
  onError: (error: Error, context: { group: string; eventId?: string }) => void;
}

/**
 * The receive pipeline, written once for every transport: size check → decode → validate →
 * middleware → handler → settle. Poison is dead-lettered at once; nothing escapes as a rejection.
 */
export function createReceiver(options: ReceiverOptions): (delivery: Delivery) => Promise<void> {
  const { group, logger } = options;

  const settleSafely = async (what: string, eventId: string | undefined, settle: () => Promise<void>) => {
    try {
      await settle();
    } catch (error) {
      options.onError(error instanceof Error ? error : new Error(String(error)), { group, ...(eventId ? { eventId } : {}) });
      logger.error({ err: error, group, eventId }, `could not ${what} the delivery`);
    }
  };

  const poison = (delivery: Delivery, error: PoisonMessageError) => {
    logger.warn({ group, channel: delivery.message.channel, reason: error.message }, 'dead-lettering poison message');
    return settleSafely('dead-letter', undefined, () => delivery.deadLetter(error.message));
  };

  return async (delivery) => {
    let event: CloudEvent;
    let contract: EventContract | undefined;
    try {
      if (!fitsIn(delivery.message, options.maxMessageBytes)) {
        const size = messageSize(delivery.message);
        throw new PoisonMessageError('oversized', `message is ${size} bytes; the limit is ${options.maxMessageBytes}`);
      }
      event = decodeEvent(delivery.message, options.encoding);
      contract = options.contracts.get(event.type);
      if (!contract) throw new PoisonMessageError('unknown-type', `no contract for type "${event.type}"`);
    } catch (error) {
      if (error instanceof PoisonMessageError) return poison(delivery, error);
      return poison(delivery, new PoisonMessageError('malformed', errorMessage(error)));
    }
    const route = options.routes.get(event.type);
    // Another contract on a shared channel that this group does not handle: not ours, not poison.
    if (!route) return settleSafely('ack', event.id, () => delivery.ack());
    const parsed = parseData(contract, event.data);
    if (!parsed.ok) {
      const detail = parsed.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
      return poison(delivery, new PoisonMessageError('schema-mismatch', `"${event.type}" ${detail}`));
    }
    event.data = parsed.data;
    if (!route.limiter.tryAcquire()) await route.limiter.acquire();
    try {
      const ctx = route.extend(createContext(delivery, event, contract, route.registration, options));
      try {
        await route.chain(ctx);
        if (!ctx.settled) await ctx.ack();
      } catch (error) {
        // The dead-letter middleware catches handler failures; reaching here means a middleware broke.
        options.onError(error instanceof Error ? error : new Error(String(error)), { group, eventId: event.id });
        if (!ctx.settled) await ctx.nack({ delayMs: 1000 });
      }
    } finally {
      route.limiter.release();
    }
  };

  function createContext(
    delivery: Delivery,
    event: CloudEvent,
    contract: EventContract,
    registration: HandlerRegistration,
    opts: ReceiverOptions,
  ): MessageContext {
    return new DeliveryContext(delivery, event, contract, registration, opts.logger, (what, eventId, action) =>
      settleSafely(what, eventId, action),
    );
  }
}

type Settle = (what: string, eventId: string | undefined, action: () => Promise<void>) => Promise<void>;

/**
 * The context of one delivery. A class, not an object of closures: one is made per message, and
 * the signal, scratch map and child logger are created only when a handler or middleware asks.
 */
class DeliveryContext implements MessageContext {
  readonly group: string;
  readonly channel: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  private controller: AbortController | undefined;
  private scratch: Map<string | symbol, unknown> | undefined;
  private childLogger: Logger | undefined;
  private done = false;

  constructor(
    private readonly delivery: Delivery,
    readonly event: CloudEvent,
    readonly contract: EventContract,
    registration: HandlerRegistration,
    private readonly baseLogger: Logger,
    private readonly settleSafely: Settle,
  ) {
    this.group = registration.group;
    this.channel = delivery.message.channel;
    this.attempt = delivery.attempt;
    this.maxAttempts = registration.maxAttempts;
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  get logger(): Logger {
    const { event, group, baseLogger } = this;
    this.childLogger ??= baseLogger.child
      ? baseLogger.child({ group, eventId: event.id, type: event.type, correlationId: event.correlationid })
      : baseLogger;
    return this.childLogger;
  }

  get state(): Map<string | symbol, unknown> {
    this.scratch ??= new Map();
    return this.scratch;
  }

  get settled(): boolean {
    return this.done;
  }

  abort(reason: Error): void {
    this.controller ??= new AbortController();
    this.controller.abort(reason);
  }

  private settle(what: string, action: () => Promise<void>): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    return this.settleSafely(what, this.event.id, action);
  }

  ack(): Promise<void> {
    return this.settle('ack', () => this.delivery.ack());
  }

  nack(options?: NackOptions): Promise<void> {
    return this.settle('nack', () => this.delivery.nack(options));
  }

  deadLetter(reason: string): Promise<void> {
    return this.settle('dead-letter', () => this.delivery.deadLetter(reason));
  }
}
