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
    // Created on first use: most handlers never touch the signal, the scratch map or a child logger.
    let controller: AbortController | undefined;
    let state: Map<string | symbol, unknown> | undefined;
    let ctxLogger: Logger | undefined;
    let settled = false;
    const settle = (what: string, action: () => Promise<void>) => {
      if (settled) return Promise.resolve();
      settled = true;
      return settleSafely(what, event.id, action);
    };
    return {
      event,
      contract,
      group,
      channel: delivery.message.channel,
      attempt: delivery.attempt,
      maxAttempts: registration.maxAttempts,
      get signal() {
        controller ??= new AbortController();
        return controller.signal;
      },
      get logger() {
        ctxLogger ??= opts.logger.child
          ? opts.logger.child({ group, eventId: event.id, type: event.type, correlationId: event.correlationid })
          : opts.logger;
        return ctxLogger;
      },
      get state() {
        state ??= new Map();
        return state;
      },
      get settled() {
        return settled;
      },
      abort: (reason: Error) => {
        controller ??= new AbortController();
        controller.abort(reason);
      },
      ack: () => settle('ack', () => delivery.ack()),
      nack: (nackOptions?: NackOptions) => settle('nack', () => delivery.nack(nackOptions)),
      deadLetter: (reason: string) => settle('dead-letter', () => delivery.deadLetter(reason)),
    };
  }
}
