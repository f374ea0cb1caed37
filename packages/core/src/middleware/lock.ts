import { acquireWithin } from '../coordination/waiting.js';
import { checkKeyOption, jittered, type KeyOption, nackUnavailable, positiveMs, resolveKey, runHolding } from '../coordination/guard.js';
import { MemoryLockStore } from '../coordination/memory-stores.js';
import type { LockStore } from '../coordination/stores.js';
import type { Middleware } from '../context.js';

export interface LockOptions {
  /** The lock's name per event, e.g. `(e) => \`instance:${e.data.instanceId}\``. */
  key: KeyOption;
  /** Where locks live: `new RedisLockStore(...)` across containers; a memory store (this process) by default. */
  store?: LockStore;
  /** ms the lock outlives a holder that died; renewed every third of it while the handler runs. Default 30 s. */
  ttl?: number;
  /** ms to wait for a busy lock before handing the delivery back. Default 5 s. */
  wait?: number;
  /** nack delay (jittered) after `wait` ran out. Default 1 s. */
  retryDelay?: number;
  /** nack delay (jittered) while the store is unreachable. Default 2 s. */
  unavailableDelay?: number;
}

/**
 * Mutual exclusion per key: two handlers holding one key never run at once, in this process or
 * (with the Redis store) in any container. A busy key waits up to `wait`, then nacks with a delay,
 * so only this delivery's slot waits — other keys keep flowing. A lost lock fires the handler's signal.
 */
export function lock(options: LockOptions): Middleware {
  checkKeyOption(options?.key, 'lock');
  const store = options.store ?? new MemoryLockStore();
  const ttl = positiveMs('lock.ttl', options.ttl, 30_000);
  const wait = positiveMs('lock.wait', options.wait, 5_000, true);
  const retryDelay = positiveMs('lock.retryDelay', options.retryDelay, 1_000, true);
  const unavailableDelay = positiveMs('lock.unavailableDelay', options.unavailableDelay, 2_000, true);
  return (next) => async (ctx) => {
    const key = resolveKey(options.key, ctx.event, 'lock');
    let lease: Awaited<ReturnType<LockStore['tryAcquire']>>;
    try {
      lease = await acquireWithin(() => store.tryAcquire(key, ttl), { key, waitMs: wait, signal: ctx.signal, notifier: store });
    } catch (error) {
      return nackUnavailable(ctx, error, 'lock', unavailableDelay);
    }
    if (!lease) {
      ctx.logger.debug({ lockKey: key, waitedMs: wait }, 'lock busy; delivery nacked to run later');
      return ctx.nack({ delayMs: jittered(retryDelay) });
    }
    await runHolding(ctx, next, lease, ttl, `lock "${key}"`);
  };
}
