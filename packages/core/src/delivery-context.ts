import type { EventContract } from './contract.js';
import type { CloudEvent } from './envelope.js';
import type { HandlerContext } from './handler.js';
import { deferHeaders, deferralsFromHeaders } from './headers.js';
import type { Logger } from './logger.js';
import { type EmitHold, HOLD_SLOT, NO_HELD_EMITS } from './middleware/hold-emits.js';
import type { HeldEmits, SettleKind } from './context.js';
import type { Route } from './pipeline.js';
import { retryTime } from './schedule.js';
import type { Delivery, NackOptions } from './transport.js';

/** Reports a settle that threw or rejected (never rethrown). */
export type SettleFailure = (what: string, eventId: string | undefined, error: unknown) => void;

/** What a settle that did nothing (a second one) returns: one shared resolved promise, not one per call. */
const SETTLED: Promise<void> = Promise.resolve();

/** Run a settle action; a failure (thrown or rejected) is reported, never rethrown. */
export function guarded(action: () => Promise<void>, report: (error: unknown) => void): Promise<void> {
  let settling: Promise<void>;
  try {
    settling = action();
  } catch (error) {
    report(error);
    return SETTLED;
  }
  return settling.then(undefined, report);
}

// The settles as functions made once, not a closure per call.
const ack = (delivery: Delivery) => delivery.ack();

/**
 * The context of one delivery. A class, not an object of closures: one is made per message, and
 * the signal, scratch map, child logger and `emit` are created only when a handler or middleware asks.
 *
 * Middleware hands handlers views made with `Object.create(ctx)` (tracing, idempotency). A view
 * reads `base` through its prototype, so settling, aborting and scratch state always land on the
 * one context the pipeline watches — never on a view's own copy.
 */
export class DeliveryContext implements HandlerContext<EventContract> {
  readonly group: string;
  readonly channel: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  private readonly base: DeliveryContext = this;
  private controller: AbortController | undefined;
  private scratch: Map<string | symbol, unknown> | undefined;
  private childLogger: Logger | undefined;
  private emitFn: HandlerContext<EventContract>['emit'] | undefined;
  private hold: EmitHold | undefined;
  private done = false;
  private how: SettleKind | undefined;

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

  get settledAs(): SettleKind | undefined {
    return this.base.how;
  }

  /** The hold of the running attempt (the emit-hold middleware opens and closes it), shared by every view. */
  get [HOLD_SLOT](): EmitHold | undefined {
    return this.base.hold;
  }

  set [HOLD_SLOT](hold: EmitHold | undefined) {
    this.base.hold = hold;
  }

  get emits(): HeldEmits {
    return this.base.hold ?? NO_HELD_EMITS;
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
    return this.base.settle('ack', ack);
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

  /**
   * The pipeline's ack of a handler that succeeded without settling: the delivery's own promise, for
   * the pipeline to await inside its try (one `then` and one closure fewer than `ack()`), or undefined
   * when the delivery was settled meanwhile. A throw or rejection is the caller's to report.
   */
  ackSuccess(): Promise<void> | undefined {
    if (this.done) return undefined;
    this.done = true;
    this.how = 'ack';
    return this.delivery.ack();
  }

  private settle(what: SettleKind, action: (delivery: Delivery) => Promise<void>): Promise<void> {
    if (this.done) return SETTLED;
    this.done = true;
    this.how = what;
    let settling: Promise<void>;
    try {
      settling = action(this.delivery);
    } catch (error) {
      this.reportFailure(what, this.event.id, error);
      return SETTLED;
    }
    return settling.then(undefined, (error: unknown) => this.reportFailure(what, this.event.id, error));
  }
}
