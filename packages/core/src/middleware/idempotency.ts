import { randomUUID } from 'node:crypto';
import type { CloudEvent } from '../envelope.js';
import { nackUnavailable, positiveMs, requiredMs, runHolding } from '../coordination/guard.js';
import { MemoryIdempotencyStore } from '../coordination/memory-stores.js';
import type { ClaimResult, IdempotencyStore } from '../coordination/stores.js';
import { pollDelay, sleep } from '../coordination/waiting.js';
import { type MessageContext, type Middleware, watchHandBack } from '../context.js';

export interface IdempotencyOptions {
  /** `new RedisIdempotencyStore(...)` across containers; a memory store (this process) by default. */
  store?: IdempotencyStore;
  /** ms a completion is remembered: duplicates arriving within it are acked without running. */
  ttl: number;
  /** What "the same work" means; the event id by default. Scoped per consumer group either way. */
  key?: (event: CloudEvent) => string;
  /** ms a running claim outlives a process that died mid-handler; renewed while it runs. Default 30 s. */
  lease?: number;
  /** ms a duplicate waits for the running copy to finish before being nacked for later. Default 5 s. */
  wait?: number;
  /** nack delay (jittered) for a duplicate whose first copy is still running after `wait`. Default 1 s. */
  retryDelay?: number;
  /** nack delay (jittered) while the store is unreachable. Default 2 s. */
  unavailableDelay?: number;
}

/**
 * An event completes at most once per group. A duplicate that arrives after completion is acked
 * without running; one that arrives while the first still runs waits for it (or is redelivered
 * later) and never runs beside it. A failed handler releases its claim so the retry can run.
 */
export function idempotency(options: IdempotencyOptions): Middleware {
  const ttl = requiredMs('idempotency.ttl', options?.ttl);
  const store = options.store ?? new MemoryIdempotencyStore();
  const lease = positiveMs('idempotency.lease', options.lease, 30_000);
  const wait = positiveMs('idempotency.wait', options.wait, 5_000, true);
  const retryDelay = positiveMs('idempotency.retryDelay', options.retryDelay, 1_000, true);
  const unavailableDelay = positiveMs('idempotency.unavailableDelay', options.unavailableDelay, 2_000, true);

  async function claimWithin(ctx: MessageContext, key: string, owner: string): Promise<ClaimResult> {
    const deadline = Date.now() + wait;
    for (let tries = 0; ; tries++) {
      const result = await store.claim(key, owner, lease);
      const left = deadline - Date.now();
      if (result !== 'busy' || left <= 0 || ctx.signal.aborted) return result;
      const pause = Math.min(left, pollDelay(tries));
      if (store.waitForRelease) await store.waitForRelease(key, pause, ctx.signal);
      else await sleep(pause, ctx.signal);
    }
  }

  /** The handler succeeded: record it, riding out a short store outage rather than risking a second run. */
  async function completeDurably(ctx: MessageContext, key: string, owner: string): Promise<void> {
    const giveUpAt = Date.now() + lease;
    for (let tries = 0; ; tries++) {
      try {
        return await store.complete(key, owner, ttl);
      } catch (error) {
        if (Date.now() >= giveUpAt) {
          ctx.logger.error({ err: error }, 'could not record completion; a later duplicate may run again');
          return;
        }
        if (tries === 0) ctx.logger.warn({ err: error }, 'recording completion failed; retrying');
        await sleep(Math.min(2_000, 100 * 2 ** tries));
      }
    }
  }

  return (next) => async (ctx) => {
    const key = `${ctx.group}:${options.key ? options.key(ctx.event) : ctx.event.id}`;
    const owner = randomUUID();
    let claimed: ClaimResult;
    try {
      claimed = await claimWithin(ctx, key, owner);
    } catch (error) {
      return nackUnavailable(ctx, error, 'idempotency', unavailableDelay);
    }
    if (claimed === 'done') {
      ctx.logger.debug({ idempotencyKey: key }, 'duplicate of completed work; acked without running');
      return ctx.ack();
    }
    if (claimed === 'busy') {
      ctx.logger.debug({ idempotencyKey: key }, 'same work still running elsewhere; nacked for later');
      return ctx.nack({ delayMs: Math.round(retryDelay * (0.8 + Math.random() * 0.4)) });
    }
    let succeeded = false;
    // Watch the inner chain's own settling: a handler that nacked or dead-lettered did not complete.
    const watch = watchHandBack(ctx);
    const claim = {
      extend: (ms: number) => store.extend(key, owner, ms),
      // Release frees a failed run's claim so the retry can run; a success is recorded as done instead.
      release: () => (succeeded ? Promise.resolve() : store.release(key, owner)),
    };
    await runHolding(
      watch.ctx,
      async (c) => {
        await next(c);
        if (watch.handedBack()) return;
        // Publish what the handler emitted before recording "done": a flush failing after it would lose them.
        await c.emits.flush();
        succeeded = true;
        await completeDurably(c, key, owner);
      },
      claim,
      lease,
      `idempotency claim "${key}"`,
    );
  };
}
