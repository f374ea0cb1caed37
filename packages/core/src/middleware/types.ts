import type { EventContract } from '../contract.js';
import type { CloudEvent } from '../envelope.js';
import type { Logger } from '../logger.js';
import type { NackOptions } from '../transport.js';

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
  abort(reason: Error): void;
  ack(): Promise<void>;
  nack(options?: NackOptions): Promise<void>;
  deadLetter(reason: string): Promise<void>;
}

export type Next = (ctx: MessageContext) => Promise<void>;

/** A plain function around a handler: `(next) => async (ctx) => { …; await next(ctx); … }`. */
export type Middleware = (next: Next) => Next;

/** Compose middleware so the first in the list runs outermost. */
export function compose(middleware: readonly Middleware[], handler: Next): Next {
  return middleware.reduceRight<Next>((next, mw) => mw(next), handler);
}
