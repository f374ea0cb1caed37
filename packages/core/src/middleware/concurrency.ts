import { acquireWithin } from '../coordination/waiting.js';
import {
  checkKeyOption,
  jittered,
  type KeyOption,
  nackUnavailable,
  positiveInt,
  positiveMs,
  resolveKey,
  runHolding,
} from '../coordination/guard.js';
import { MemorySemaphoreStore } from '../coordination/memory-stores.js';
import type { Lease, SemaphoreStore } from '../coordination/stores.js';
import type { Middleware } from '../context.js';

export interface ConcurrencyOptions {
  /** What the limit counts, e.g. `'queue:reports'` or `(e) => e.data.tenant`. */
  key: KeyOption;
  /** Handlers of one key in flight at once, across every process sharing the store. */
  limit: number;
  /** `new RedisSemaphoreStore(...)` across containers; a memory store (this process) by default. */
  store?: SemaphoreStore;
  /** ms a permit outlives a holder that died; renewed every third of it while the handler runs. Default 30 s. */
  ttl?: number;
  /** ms to wait for a free permit before handing the delivery back. Default 5 s. */
  wait?: number;
  /** nack delay (jittered) after `wait` ran out. Default 1 s. */
  retryDelay?: number;
  /** nack delay (jittered) while the store is unreachable. Default 2 s. */
  unavailableDelay?: number;
}

/**
 * A counting semaphore per key: at most `limit` handlers in flight. The permit is released on
 * success, failure and timeout, and expires by its TTL if the process dies holding it.
 */
export function concurrency(options: ConcurrencyOptions): Middleware {
  checkKeyOption(options?.key, 'concurrency');
  const limit = positiveInt('concurrency.limit', options.limit);
  const store = options.store ?? new MemorySemaphoreStore();
  const ttl = positiveMs('concurrency.ttl', options.ttl, 30_000);
  const wait = positiveMs('concurrency.wait', options.wait, 5_000, true);
  const retryDelay = positiveMs('concurrency.retryDelay', options.retryDelay, 1_000, true);
  const unavailableDelay = positiveMs('concurrency.unavailableDelay', options.unavailableDelay, 2_000, true);
  return (next) => async (ctx) => {
    const key = resolveKey(options.key, ctx.event, 'concurrency');
    let permit: Lease | undefined;
    try {
      permit = await acquireWithin(() => store.tryAcquire(key, limit, ttl), { key, waitMs: wait, signal: ctx.signal, notifier: store });
    } catch (error) {
      return nackUnavailable(ctx, error, 'concurrency', unavailableDelay);
    }
    if (!permit) {
      ctx.logger.debug({ concurrencyKey: key, limit, waitedMs: wait }, 'no permit free; delivery nacked to run later');
      return ctx.nack({ delayMs: jittered(retryDelay) });
    }
    await runHolding(ctx, next, permit, ttl, `permit of "${key}"`);
  };
}
