import type { CloudEvent } from '../envelope.js';
import { ConfigError, CoordinationUnavailableError, errorMessage, EventBusError } from '../errors.js';
import type { MessageContext, Next } from '../context.js';
import { keepAlive } from './keep-alive.js';
import type { Lease } from './stores.js';

/** A fixed key, or one derived from the event (e.g. `(e) => e.data.accountId`). */
export type KeyOption = string | ((event: CloudEvent) => string);

/** The hold a running handler relied on (lock, permit, claim) was lost: its AbortSignal carries this. */
export class LeaseLostError extends EventBusError {
  override readonly name = 'LeaseLostError';
}

export function resolveKey(option: KeyOption, event: CloudEvent, name: string): string {
  const key = typeof option === 'string' ? option : option(event);
  if (typeof key !== 'string' || key === '') throw new ConfigError(`${name}.key`, `must give a non-empty string (got ${String(key)})`);
  return key;
}

export function checkKeyOption(option: unknown, name: string): void {
  if (!(typeof option === 'function' || (typeof option === 'string' && option !== ''))) {
    throw new ConfigError(`${name}.key`, 'is required: a string or a function of the event');
  }
}

export function positiveMs(option: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (!(Number.isFinite(value) && (allowZero ? value >= 0 : value > 0))) {
    throw new ConfigError(option, `must be a ${allowZero ? 'non-negative' : 'positive'} number of ms (got ${String(value)})`);
  }
  return value;
}

export function requiredMs(option: string, value: number | undefined): number {
  if (value === undefined) throw new ConfigError(option, 'is required: a positive number of ms');
  return positiveMs(option, value, 0);
}

export function positiveInt(option: string, value: number | undefined): number {
  if (!(Number.isInteger(value) && (value as number) >= 1)) throw new ConfigError(option, `must be a whole number ≥ 1 (got ${String(value)})`);
  return value as number;
}

/** Spread redeliveries of busy work so they do not come back as one herd. */
export function jittered(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

/**
 * The store could not answer: say so clearly and hand the delivery back with a delay. Nothing ran,
 * so nothing runs twice, and the redelivery succeeds once the store is back.
 */
export async function nackUnavailable(ctx: MessageContext, error: unknown, what: string, delayMs: number): Promise<void> {
  const cause = error instanceof CoordinationUnavailableError ? error : new CoordinationUnavailableError(errorMessage(error));
  ctx.logger.error({ err: cause, delayMs }, `${what} store unavailable; delivery nacked to run later`);
  await ctx.nack({ delayMs: jittered(delayMs) });
}

/** Run the rest of the chain while `lease` is renewed; abort the handler if it is lost; release after. */
export async function runHolding(ctx: MessageContext, next: Next, lease: Lease, ttlMs: number, what: string): Promise<void> {
  const stop = keepAlive(
    (ms) => lease.extend(ms),
    ttlMs,
    (why) => {
      const error = new LeaseLostError(`${what} lost while the handler ran: ${why}`);
      ctx.logger.warn({ err: error }, 'aborting handler');
      ctx.abort(error);
    },
  );
  try {
    await next(ctx);
  } finally {
    stop();
    await lease.release().catch((error: unknown) => {
      // The TTL frees it anyway; a failed release only delays the next holder.
      ctx.logger.warn({ err: error }, `could not release the ${what}; it expires by its TTL`);
    });
  }
}
