import type { EventContract } from './contract.js';
import type { CloudEvent } from './envelope.js';
import type { Logger } from './logger.js';
import type { NackOptions, OutgoingMessage } from './transport.js';

/** One event a handler emitted, built and encoded, waiting for the handler to succeed. */
export interface HeldEmit {
  readonly event: CloudEvent;
  readonly message: OutgoingMessage;
}

/**
 * The events emitted during this attempt and not yet published. The bus flushes them after the
 * handler (and the middleware inside the hold) resolved, before the ack; a failed attempt drops them.
 */
export interface HeldEmits {
  /** Remove and return what is held, e.g. to write it into an outbox in the handler's transaction. */
  take(): HeldEmit[];
  /** Publish what is held now, in one transport call, and empty the hold. */
  flush(): Promise<void>;
  readonly size: number;
}

/** What every middleware and handler sees of one delivery, after decoding and validation. */
export interface MessageContext<T = unknown> {
  readonly event: CloudEvent<T>;
  readonly contract: EventContract;
  readonly group: string;
  readonly channel: string;
  /** 1 on the first delivery. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Fires when the handler should give up: timeout, a lost lock, or `abort()`. */
  readonly signal: AbortSignal;
  /** Carries the group, event id, type and correlation id on every line. */
  readonly logger: Logger;
  /** Scratch space for middleware (a lock's handle, a span). */
  readonly state: Map<string | symbol, unknown>;
  /** True once ack, nack or deadLetter was called. The pipeline acks an unsettled success. */
  readonly settled: boolean;
  /** How the delivery was settled (the first settle wins), once it was; the pipeline's context always has it. */
  readonly settledAs?: SettleKind | undefined;
  /** What `ctx.emit` holds until the attempt succeeds (empty with `emit: 'immediate'`). */
  readonly emits: HeldEmits;
  abort(reason: Error): void;
  ack(): Promise<void>;
  nack(options?: NackOptions): Promise<void>;
  deadLetter(reason: string): Promise<void>;
  /**
   * Not now: the delivery comes back at this time (ms from now, or a Date), settled at once. Not a
   * failed attempt (`attempt` stays the same, `maxAttempts` is not used up); counted apart, and past
   * the bus's `retryLater.maxDeferrals` the event is dead-lettered instead. `throw new
   * RetryLaterError(when)` does the same from inside a handler.
   */
  retryAfter(when: number | Date): Promise<void>;
}

/** The ways a delivery is settled. */
export type SettleKind = 'ack' | 'nack' | 'dead-letter' | 'defer';

export type Next = (ctx: MessageContext) => Promise<void>;

/** A plain function around a handler: `(next) => async (ctx) => { …; await next(ctx); … }`. */
export type Middleware = (next: Next) => Next;

/** Compose middleware so the first in the list runs outermost. */
export function compose(middleware: readonly Middleware[], handler: Next): Next {
  return middleware.reduceRight<Next>((next, mw) => mw(next), handler);
}

/** Hand-back as the context itself records it (`settledAs`): only a settle made after the watch began counts. */
class SettleWatch {
  private readonly settledBefore: boolean;

  constructor(readonly ctx: MessageContext) {
    this.settledBefore = ctx.settled;
  }

  handedBack(): boolean {
    const how = this.ctx.settledAs;
    return !this.settledBefore && how !== undefined && how !== 'ack';
  }
}

/**
 * A view of `ctx` that notes whether the chain inside settled the delivery itself with `nack`,
 * `deadLetter` or `retryAfter` — a handler that hands its delivery back did not complete, even though it returned.
 * Middleware that commits on completion (idempotency, an inbox, the emit hold) runs the rest of the
 * chain with `ctx` and asks `handedBack()` afterwards.
 */
export function watchHandBack(ctx: MessageContext): { ctx: MessageContext; handedBack(): boolean } {
  // The pipeline's context says how it was settled: no view and no closure, one small object
  // per delivery (the view cost ~4% of a delivery's CPU in bench/profile.ts).
  if ('settledAs' in ctx) return new SettleWatch(ctx);
  // A context of another making (a test's, a hand-built one): watch its settle calls through a view.
  let handedBack = false;
  // Own properties defined, not assigned (a view made further out may hold these as read-only), and
  // left writable so a view made further in can shadow them in turn.
  const watched = Object.create(ctx, {
    nack: {
      writable: true,
      configurable: true,
      value: (options?: NackOptions) => {
        handedBack ||= !ctx.settled;
        return ctx.nack(options);
      },
    },
    deadLetter: {
      writable: true,
      configurable: true,
      value: (reason: string) => {
        handedBack ||= !ctx.settled;
        return ctx.deadLetter(reason);
      },
    },
    retryAfter: {
      writable: true,
      configurable: true,
      value: (when: number | Date) => {
        handedBack ||= !ctx.settled;
        return ctx.retryAfter(when);
      },
    },
  }) as MessageContext;
  return { ctx: watched, handedBack: () => handedBack };
}
