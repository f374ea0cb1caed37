import { decodeEvent } from './codec.js';
import { type EventContract, parseData } from './contract.js';
import type { CloudEvent } from './envelope.js';
import { errorMessage, PoisonMessageError } from './errors.js';
import { DeliveryContext, guarded, type SettleFailure } from './delivery-context.js';
import type { HandlerRegistration } from './handler.js';
import { fitsIn, messageSize } from './headers.js';
import type { Limiter } from './limiter.js';
import type { Logger } from './logger.js';
import type { Next } from './context.js';
import type { Emitter } from './publisher.js';
import { tapSettles } from './observe/settle-tap.js';
import { mayBeScheduled, settledBySchedule } from './receive-check.js';
import type { Instrumentation } from './tracing/hooks.js';
import type { ScheduleCancellations } from './schedule-cancellations.js';
import type { Delivery, WireEncoding } from './transport.js';

/** A handler of one type inside a group, with its middleware chain already composed. */
export interface Route {
  readonly registration: HandlerRegistration;
  readonly chain: Next;
  readonly limiter: Limiter;
  readonly emit: Emitter;
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
  onError: (error: Error, context: { group: string; eventId?: string; settle?: string }) => void;
  /** The transport's short name, for the instrumentation. */
  transport: string;
  /** Told of each delivery's start and how it was settled (its `receive` hook). */
  instrumentation?: Instrumentation | undefined;
  /** `ctx.retryAfter` deferrals one event may go through before it is dead-lettered. */
  maxDeferrals?: number;
  /** Where `bus.cancelScheduled` records cancellations; looked up only for due scheduled events. */
  cancellations?: ScheduleCancellations;
}

/**
 * The receive pipeline, written once for every transport: size check → decode → validate →
 * middleware → handler → settle. Poison is dead-lettered at once; nothing escapes as a rejection.
 */
export function createReceiver(options: ReceiverOptions): (delivery: Delivery) => Promise<void> {
  const { group, logger } = options;
  const maxDeferrals = options.maxDeferrals ?? DEFAULT_MAX_DEFERRALS;

  const reportSettleFailure: SettleFailure = (what, eventId, error) => {
    // onError logs it (the bus's one line per error); logging here too would print it twice.
    const reported = error instanceof Error ? error : new Error(String(error));
    options.onError(reported, { group, ...(eventId ? { eventId } : {}), settle: what });
  };
  const settleSafely = (what: string, eventId: string | undefined, settle: () => Promise<void>) =>
    guarded(settle, (error) => reportSettleFailure(what, eventId, error));

  const poison = (delivery: Delivery, error: PoisonMessageError, event?: CloudEvent) => {
    logger.warn({ group, channel: delivery.message.channel, reason: error.message }, 'dead-lettering poison message');
    const tap = tapSettles(options.instrumentation, delivery);
    const { channel } = delivery.message;
    tap?.start({ transport: options.transport, group, channel, attempt: delivery.attempt, ...(event ? { event } : {}) });
    return settleSafely('dead-letter', event?.id, () => (tap?.delivery ?? delivery).deadLetter(error.message));
  };

  return async (delivery) => {
    let event: CloudEvent;
    let contract: EventContract | undefined;
    try {
      const carried = delivery.message.event;
      if (carried) {
        // One object reaches every group: each gets its own envelope (and, below, its own parsed data).
        event = { ...carried };
      } else {
        if (!fitsIn(delivery.message, options.maxMessageBytes)) {
          const size = messageSize(delivery.message);
          throw new PoisonMessageError('oversized', `message is ${size} bytes; the limit is ${options.maxMessageBytes}`);
        }
        event = decodeEvent(delivery.message, options.encoding);
      }
      contract = options.contracts.get(event.type);
      if (!contract) throw new PoisonMessageError('unknown-type', `no contract for type "${event.type}"`);
    } catch (error) {
      if (error instanceof PoisonMessageError) return poison(delivery, error);
      return poison(delivery, new PoisonMessageError('malformed', errorMessage(error)));
    }
    const route = options.routes.get(event.type);
    // Another contract on a shared channel that this group does not handle: not ours, not poison.
    if (!route) return settleSafely('ack', event.id, () => delivery.ack());
    // Two header lookups for an ordinary event; the check itself (and its await) only for a scheduled or deferred one.
    if (mayBeScheduled(delivery.message.headers)) {
      const scheduleCheck = {
        cancellations: options.cancellations,
        settle: (what: string, settle: () => Promise<void>) => settleSafely(what, event.id, settle),
        onStoreError: (error: unknown) => reportSettleFailure('cancellation lookup', event.id, error),
      };
      // Tapped, so the instrumentation counts a held or cancelled event's defer or ack.
      const checked = tapSettles(options.instrumentation, delivery);
      checked?.startWhenSettled({ transport: options.transport, group, channel: delivery.message.channel, attempt: delivery.attempt, event });
      if (await settledBySchedule(checked?.delivery ?? delivery, event.id, scheduleCheck)) return;
    }
    const parsed = parseData(contract, event.data);
    if (!parsed.ok) {
      const detail = parsed.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
      return poison(delivery, new PoisonMessageError('schema-mismatch', `"${event.type}" ${detail}`), event);
    }
    event.data = parsed.data;
    if (!route.limiter.tryAcquire()) await route.limiter.acquire();
    const tap = tapSettles(options.instrumentation, delivery);
    try {
      const ctx = new DeliveryContext(tap?.delivery ?? delivery, event, contract, route, logger, reportSettleFailure, maxDeferrals);
      tap?.start({ transport: options.transport, group, channel: ctx.channel, attempt: ctx.attempt, event, context: ctx });
      try {
        await route.chain(ctx);
      } catch (error) {
        // The dead-letter middleware catches handler failures; reaching here means a middleware broke.
        options.onError(error instanceof Error ? error : new Error(String(error)), { group, eventId: event.id });
        tap?.broke(error);
        if (!ctx.settled) await ctx.nack({ delayMs: 1000 });
      }
      // A success the chain left unsettled is acked here; a failed ack is reported, never thrown.
      if (!ctx.settled) {
        try {
          await ctx.ackSuccess();
        } catch (error) {
          reportSettleFailure('ack', event.id, error);
        }
      }
    } finally {
      tap?.finish();
      route.limiter.release();
    }
  };
}

/** `retryLater.maxDeferrals` when the bus option is not given. */
export const DEFAULT_MAX_DEFERRALS = 100;

