import { type BackoffOptions, backoffDelay, resolveBackoff } from '../backoff.js';
import { ConfigError, errorMessage, NonRetryableError, RetryLaterError } from '../errors.js';
import type { Middleware } from '../context.js';

export interface RetryOptions {
  maxAttempts: number;
  backoff?: Partial<BackoffOptions>;
  /** Longest delay the transport honours in one step. */
  maxDelayMs?: number;
}

/** Thrown outward when retrying is over, for the dead-letter middleware to record. */
export class RetriesExhaustedError extends Error {
  override readonly name = 'RetriesExhaustedError';
  constructor(
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(
      cause instanceof NonRetryableError
        ? `non-retryable failure on attempt ${attempts}: ${errorMessage(cause)}`
        : `failed after ${attempts} attempt(s): ${errorMessage(cause)}`,
    );
  }
}

/**
 * A failed handler is nacked with capped exponential backoff while attempts remain; after that (or
 * for a NonRetryableError) the failure is rethrown as RetriesExhaustedError. A RetryLaterError is
 * not a failure: the delivery is deferred to its time (`ctx.retryAfter`), the attempt unchanged.
 */
export function retry(options: RetryOptions): Middleware {
  if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) {
    throw new ConfigError('maxAttempts', `must be a whole number ≥ 1 (got ${String(options.maxAttempts)})`);
  }
  const backoff = resolveBackoff(options.backoff);
  const maxDelayMs = options.maxDelayMs ?? Number.POSITIVE_INFINITY;
  return (next) => async (ctx) => {
    try {
      await next(ctx);
    } catch (error) {
      if (ctx.settled) throw error;
      // "Not now" is not a failure: no attempt used up, no backoff — the delivery comes back then.
      if (error instanceof RetryLaterError) return ctx.retryAfter(error.when);
      if (error instanceof NonRetryableError || ctx.attempt >= options.maxAttempts) {
        throw new RetriesExhaustedError(ctx.attempt, error);
      }
      const delayMs = Math.min(maxDelayMs, backoffDelay(ctx.attempt, backoff));
      // A retry still to come is not a warning (the default logger stays quiet); giving up is, in dead-letter.
      ctx.logger.info({ err: error, attempt: ctx.attempt, delayMs }, 'handler failed; will retry');
      await ctx.nack({ delayMs });
    }
  };
}
