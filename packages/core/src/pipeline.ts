import { decodeEvent } from './codec.js';
import { type EventContract, parseData } from './contract.js';
import type { CloudEvent } from './envelope.js';
import { errorMessage, PoisonMessageError } from './errors.js';
import type { HandlerContext, HandlerRegistration } from './handler.js';
import { deferHeaders, deferralsFromHeaders, fitsIn, messageSize } from './headers.js';
import type { Limiter } from './limiter.js';
import type { Logger } from './logger.js';
import { NO_HELD_EMITS, openHoldOf } from './middleware/hold-emits.js';
import type { HeldEmits, Next } from './context.js';
import type { Emitter } from './publisher.js';
import { tapSettles } from './observe/settle-tap.js';
import type { Instrumentation } from './tracing/hooks.js';
import { settledBySchedule } from './receive-check.js';
import { retryTime } from './schedule.js';
import type { ScheduleCancellations } from './schedule-cancellations.js';
import type { Delivery, NackOptions, WireEncoding } from './transport.js';

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
    const scheduleCheck = {
      cancellations: options.cancellations,
      settle: (what: string, settle: () => Promise<void>) => settleSafely(what, event.id, settle),
      onStoreError: (error: unknown) => reportSettleFailure('cancellation lookup', event.id, error),
    };
    const checked = tapSettles(options.instrumentation, delivery);
    checked?.startWhenSettled({ transport: options.transport, group, channel: delivery.message.channel, attempt: delivery.attempt, event });
    if (await settledBySchedule(checked?.delivery ?? delivery, event.id, scheduleCheck)) return;
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
        if (!ctx.settled) await ctx.ack();
      } catch (error) {
        // The dead-letter middleware catches handler failures; reaching here means a middleware broke.
        options.onError(error instanceof Error ? error : new Error(String(error)), { group, eventId: event.id });
        tap?.broke(error);
        if (!ctx.settled) await ctx.nack({ delayMs: 1000 });
      }
    } finally {
      tap?.finish();
      route.limiter.release();
    }
  };
}

/** `retryLater.maxDeferrals` when the bus option is not given. */
export const DEFAULT_MAX_DEFERRALS = 100;

type SettleFailure = (what: string, eventId: string | undefined, error: unknown) => void;

/** Run a settle action; a failure (thrown or rejected) is reported, never rethrown. */
function guarded(action: () => Promise<void>, report: (error: unknown) => void): Promise<void> {
  let settling: Promise<void>;
  try {
    settling = action();
  } catch (error) {
    report(error);
    return Promise.resolve();
  }
  return settling.then(undefined, report);
}

/**
 * The context of one delivery. A class, not an object of closures: one is made per message, and
 * the signal, scratch map, child logger and `emit` are created only when a handler or middleware asks.
 *
 * Middleware hands handlers views made with `Object.create(ctx)` (tracing, idempotency). A view
 * reads `base` through its prototype, so settling, aborting and scratch state always land on the
 * one context the pipeline watches — never on a view's own copy.
 */
class DeliveryContext implements HandlerContext<EventContract> {
  readonly group: string;
  readonly channel: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  private readonly base: DeliveryContext = this;
  private controller: AbortController | undefined;
  private scratch: Map<string | symbol, unknown> | undefined;
  private childLogger: Logger | undefined;
  private emitFn: HandlerContext<EventContract>['emit'] | undefined;
  private done = false;

  constructor(
    private readonly delivery: Delivery,
    readonly event: CloudEvent,
    readonly contract: EventContract,
    private readonly route: Route,
    readonly baseLogger: Logger,
    private readonly reportFailure: SettleFailure,
    private readonly maxDeferrals: number,
  ) {
    this.group = route.registration.group;
    this.channel = delivery.message.channel;
    this.attempt = delivery.attempt;
    this.maxAttempts = route.registration.maxAttempts;
  }

  get signal(): AbortSignal {
    const { base } = this;
    base.controller ??= new AbortController();
    return base.controller.signal;
  }

  get logger(): Logger {
    const { base } = this;
    const { event, group, baseLogger } = base;
    base.childLogger ??= baseLogger.child
      ? baseLogger.child({ group, eventId: event.id, type: event.type, correlationId: event.correlationid })
      : baseLogger;
    return base.childLogger;
  }

  get state(): Map<string | symbol, unknown> {
    const { base } = this;
    base.scratch ??= new Map();
    return base.scratch;
  }

  get settled(): boolean {
    return this.base.done;
  }

  /** The hold of the running attempt: read through `base`, so every view of the context sees the same one. */
  get emits(): HeldEmits {
    return openHoldOf(this.base.scratch) ?? NO_HELD_EMITS;
  }

  /** A function, not a method, so handlers may destructure it: `(event, { emit }) => …`. */
  get emit(): HandlerContext<EventContract>['emit'] {
    const { base } = this;
    base.emitFn ??= ((contract, data, options) => base.route.emit(base, contract, data, options)) as HandlerContext<EventContract>['emit'];
    return base.emitFn;
  }

  abort(reason: Error): void {
    const { base } = this;
    base.controller ??= new AbortController();
    base.controller.abort(reason);
  }

  ack(): Promise<void> {
    return this.base.settle('ack', (delivery) => delivery.ack());
  }

  nack(options?: NackOptions): Promise<void> {
    return this.base.settle('nack', (delivery) => delivery.nack(options));
  }

  deadLetter(reason: string): Promise<void> {
    return this.base.settle('dead-letter', (delivery) => delivery.deadLetter(reason));
  }

  /** Defer to `when` (the same attempt, one more deferral), or dead-letter once past `maxDeferrals`. */
  retryAfter(when: number | Date): Promise<void> {
    const { base } = this;
    let at: number;
    try {
      at = retryTime(when);
    } catch (error) {
      return Promise.reject(error);
    }
    const deferrals = deferralsFromHeaders(base.delivery.message.headers);
    if (deferrals >= base.maxDeferrals) {
      const reason = `retry-after deferred ${deferrals} time(s), the bound (retryLater.maxDeferrals = ${base.maxDeferrals}); not retried again`;
      base.logger.error({ reason, deferrals }, 'dead-lettering event');
      return base.settle('dead-letter', (delivery) => delivery.deadLetter(reason));
    }
    return base.settle('defer', (delivery) => delivery.defer(at, deferHeaders(delivery, at, true)));
  }

  private settle(what: string, action: (delivery: Delivery) => Promise<void>): Promise<void> {
    if (this.done) return Promise.resolve();
    this.done = true;
    return guarded(
      () => action(this.delivery),
      (error) => this.reportFailure(what, this.event.id, error),
    );
  }
}
