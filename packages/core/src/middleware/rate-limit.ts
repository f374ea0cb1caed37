import { checkKeyOption, type KeyOption, nackUnavailable, positiveInt, positiveMs, requiredMs, resolveKey } from '../coordination/guard.js';
import { MemoryRateLimitStore } from '../coordination/memory-stores.js';
import type { RateLimitStore, Reservation } from '../coordination/stores.js';
import { sleep } from '../coordination/waiting.js';
import { oneOf } from '../option-checks.js';
import type { Middleware } from '../context.js';

/**
 * `ctx.state` key holding the store's time (epoch ms; Redis server time with the Redis store) at
 * which the limiter admitted this start — the time the limit is enforced on, for audits and tests.
 */
export const RATE_LIMIT_STARTED_AT = Symbol.for('eventbus.rateLimit.startedAt');

export interface RateLimitOptions {
  /** What the limit protects, e.g. `'ec2-api'`; one budget per key across every process sharing the store. */
  key: KeyOption;
  /** Handler starts allowed in any window of `per` ms. */
  limit: number;
  /** The window in ms (1000 for "per second"). */
  per: number;
  /** `new RedisRateLimitStore(...)` across containers; a memory store (this process) by default. */
  store?: RateLimitStore;
  /** Longest wait for a slot in this delivery; beyond it the delivery is nacked until about then. Default 60 s. */
  maxWait?: number;
  /**
   * ms added between reserved slots to absorb the delay between the limiter's yes and the handler's
   * first line (a busy event loop, a descheduled process), so the calls themselves stay inside the
   * limit too. Default 1.5% of `per`, at most 50 ms (15 ms at 1 s: 98.5% of the limit is reachable).
   */
  margin?: number;
  /** nack delay (jittered) while the store is unreachable. Default 2 s. */
  unavailableDelay?: number;
  /**
   * Over the limit: `'wait'` (default) — reserve the next slot and wait for it here, holding the
   * delivery and a concurrency slot; `'retryAfter'` — hand the delivery back until about the next
   * free slot (`ctx.retryAfter`: not a failed attempt, counted toward `retryLater.maxDeferrals`), so
   * nothing is held while it waits. `maxWait` does not apply.
   */
  whenLimited?: 'wait' | 'retryAfter';
}

/**
 * Never more than `limit` handler starts in any window of `per` ms — a sliding log, so no boundary
 * lets twice the limit through. Over the limit a delivery reserves the next slot (first come, first
 * served) and waits for it, instead of bouncing off the broker in a storm of nacks.
 */
export function rateLimit(options: RateLimitOptions): Middleware {
  checkKeyOption(options?.key, 'rateLimit');
  const limit = positiveInt('rateLimit.limit', options.limit);
  const per = requiredMs('rateLimit.per', options.per);
  const store = options.store ?? new MemoryRateLimitStore();
  const maxWait = positiveMs('rateLimit.maxWait', options.maxWait, 60_000, true);
  const margin = positiveMs('rateLimit.margin', options.margin, Math.min(50, per * 0.015), true);
  const window = { limit, perMs: per };
  const unavailableDelay = positiveMs('rateLimit.unavailableDelay', options.unavailableDelay, 2_000, true);
  const deferWhenLimited = oneOf('rateLimit.whenLimited', options.whenLimited, ['wait', 'retryAfter'], 'wait') === 'retryAfter';
  const jitter = () => Math.round(Math.random() * Math.min(per, 1000));
  return (next) => async (ctx) => {
    const key = resolveKey(options.key, ctx.event, 'rateLimit');
    let reservation: Reservation;
    try {
      // Deferring: reserve only a slot free now; a later one would sit empty while the delivery is away.
      reservation = await store.reserve(key, { ...window, marginMs: margin, maxWaitMs: deferWhenLimited ? 0 : maxWait });
    } catch (error) {
      return nackUnavailable(ctx, error, 'rate limit', unavailableDelay);
    }
    if (!reservation.reserved && deferWhenLimited) {
      ctx.logger.debug({ rateLimitKey: key, retryAfterMs: reservation.retryAfterMs }, 'over the limit; deferred until about the next slot');
      return ctx.retryAfter(reservation.retryAfterMs + jitter());
    }
    if (!reservation.reserved) {
      ctx.logger.debug({ rateLimitKey: key, retryAfterMs: reservation.retryAfterMs }, 'no slot within maxWait; delivery nacked');
      return ctx.nack({ delayMs: reservation.retryAfterMs + jitter() });
    }
    const { token } = reservation;
    let startedAt = reservation.startedAt;
    let waitMs = reservation.waitMs;
    try {
      // The claim re-checks the log of actual starts, so a waiter whose timer fired late cannot overfill a window.
      while (startedAt === undefined) {
        if (waitMs > 0) await sleep(waitMs, ctx.signal);
        if (ctx.signal.aborted) {
          await store.cancel(key, token);
          throw ctx.signal.reason;
        }
        const claim = await store.claim(key, token, window);
        startedAt = claim.startedAt;
        waitMs = claim.waitMs ?? 0;
      }
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      await store.cancel(key, token).catch(() => {});
      return nackUnavailable(ctx, error, 'rate limit', unavailableDelay);
    }
    ctx.state.set(RATE_LIMIT_STARTED_AT, startedAt);
    await next(ctx);
  };
}
