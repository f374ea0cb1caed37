import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reservation } from '../coordination/stores.js';
import { LeaseLostError } from '../coordination/guard.js';
import { sleep, startJobBus } from '../../test/fixtures/coordination-harness.js';
import { lock } from '../middleware/lock.js';
import { CoordinationUnavailableError } from '../errors.js';
import { describeBroker } from '../testing/env.js';
import { connectRedis, type Redis } from './client.js';
import { RedisIdempotencyStore } from './idempotency-store.js';
import { RedisLockStore } from './lock-store.js';
import { RedisRateLimitStore } from './rate-limit-store.js';
import { RedisSemaphoreStore } from './semaphore-store.js';

const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

describeBroker('Redis coordination stores', { variable: 'EVENTBUS_REDIS_URL' }, (url) => {
  let client: Redis;
  const prefix = `test:${run}:`;
  beforeAll(async () => {
    client = await connectRedis(url());
  });
  afterAll(() => client?.disconnect());

  describe('RedisLockStore', () => {
    it('grants a key to one holder at a time and frees it on release or TTL', async () => {
      const store = new RedisLockStore({ clients: [client], prefix });
      const first = await store.tryAcquire('a', 80);
      expect(first).toBeDefined();
      expect(await store.tryAcquire('a', 80)).toBeUndefined();
      expect(await store.tryAcquire('b', 80)).toBeDefined();
      await first!.release();
      const second = await store.tryAcquire('a', 80);
      expect(second).toBeDefined();
      await sleep(100);
      expect(await second!.extend(80)).toBe(false);
      const third = await store.tryAcquire('a', 1_000);
      expect(third).toBeDefined();
      // A stale holder's release must not free the new holder's lock.
      await second!.release();
      expect(await store.tryAcquire('a', 1_000)).toBeUndefined();
      expect(await third!.extend(1_000)).toBe(true);
    });

    it('Redlock: holds with a majority of servers, reports unavailability without one', async () => {
      const others = await Promise.all([connectRedis(url(), { db: 1 }), connectRedis(url(), { db: 2 })]);
      try {
        const store = new RedisLockStore({ clients: [client, ...others], prefix });
        // One server already has the key (a partition left it there): 2 of 3 still grant it.
        await others[0]!.set(`${prefix}lock:q`, 'someone-else', 'PX', 5_000);
        const lease = await store.tryAcquire('q', 5_000);
        expect(lease).toBeDefined();
        expect(await store.tryAcquire('q', 5_000)).toBeUndefined();
        await lease!.release();
        others[0]!.disconnect();
        others[1]!.disconnect();
        await expect(store.tryAcquire('r', 5_000)).rejects.toBeInstanceOf(CoordinationUnavailableError);
      } finally {
        for (const c of others) c.disconnect();
      }
    });
  });

  describe('lock middleware on Redis', () => {
    it('fires the handler signal when the lock is taken away mid-handler', async () => {
      const store = new RedisLockStore({ clients: [client], prefix });
      let reason: unknown;
      const app = await startJobBus({
        middleware: [lock({ key: 'stolen', store, ttl: 150 })],
        maxAttempts: 1,
        handler: async (_data, ctx) => {
          // Another holder takes the key (as after an expiry during a network partition).
          await client.set(`${prefix}lock:stolen`, 'someone-else', 'PX', 5_000);
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          reason = ctx.signal.reason;
        },
      });
      try {
        await app.publish('stolen', 1);
        await app.runs.waitForCount(1, { timeoutMs: 5_000 });
        expect(reason).toBeInstanceOf(LeaseLostError);
        // The stale holder's release left the other holder's lock alone.
        expect(await client.get(`${prefix}lock:stolen`)).toBe('someone-else');
      } finally {
        await app.stop();
      }
    });
  });

  describe('RedisSemaphoreStore', () => {
    it('admits `limit` holders and frees the place of one that died by its TTL', async () => {
      const store = new RedisSemaphoreStore({ client, prefix });
      const held = await Promise.all([store.tryAcquire('s', 2, 60), store.tryAcquire('s', 2, 5_000)]);
      expect(held.every(Boolean)).toBe(true);
      expect(await store.tryAcquire('s', 2, 5_000)).toBeUndefined();
      await sleep(80); // the first holder "died" without releasing
      const third = await store.tryAcquire('s', 2, 5_000);
      expect(third).toBeDefined();
      expect(await held[0]!.extend(5_000)).toBe(false);
      await held[1]!.release();
      expect(await store.tryAcquire('s', 2, 5_000)).toBeDefined();
    });
  });

  describe('RedisRateLimitStore', () => {
    it('reserves slots in order on the server clock and refuses starts that would overfill a window', async () => {
      const store = new RedisRateLimitStore({ client, prefix });
      const window = { limit: 2, perMs: 200 };
      const reservations: Reservation[] = [];
      for (let i = 0; i < 5; i++) reservations.push(await store.reserve('r', { ...window, marginMs: 0, maxWaitMs: 1_000 }));
      const waits = reservations.map((r) => (r.reserved ? r.waitMs : -1));
      expect(waits[0]).toBe(0);
      expect(waits[1]).toBe(0);
      expect(waits[2]).toBeGreaterThan(150);
      expect(waits[4]).toBeGreaterThan(350);
      const beyond = await store.reserve('r', { ...window, marginMs: 0, maxWaitMs: 100 });
      expect(beyond.reserved).toBe(false);
      const token = (r: Reservation) => (r.reserved ? r.token : '');
      // Slots free right now are started by the reservation itself (one round trip).
      expect(reservations.map((r) => r.reserved && r.startedAt !== undefined)).toEqual([true, true, false, false, false]);
      // Early claim of the third slot: refused with the time left until the window has room.
      const early = await store.claim('r', token(reservations[2]!), window);
      expect(early.startedAt).toBeUndefined();
      expect(early.waitMs).toBeGreaterThan(150);
      expect(early.waitMs).toBeLessThanOrEqual(200);
      // Server time: within a second of this machine's clock (same host), not a relative number.
      const first = reservations[0]!;
      expect(Math.abs((first.reserved ? first.startedAt! : 0) - Date.now())).toBeLessThan(1_000);
    });
  });

  describe('RedisIdempotencyStore', () => {
    it('claims once, reports busy while running and done after completion, and frees a failed claim', async () => {
      const store = new RedisIdempotencyStore({ client, prefix });
      expect(await store.claim('e1', 'a', 5_000)).toBe('claimed');
      expect(await store.claim('e1', 'b', 5_000)).toBe('busy');
      expect(await store.extend('e1', 'a', 5_000)).toBe(true);
      expect(await store.extend('e1', 'b', 5_000)).toBe(false);
      await store.release('e1', 'b'); // not b's claim: no effect
      expect(await store.claim('e1', 'b', 5_000)).toBe('busy');
      await store.release('e1', 'a');
      expect(await store.claim('e1', 'b', 5_000)).toBe('claimed');
      await store.complete('e1', 'b', 60_000);
      expect(await store.claim('e1', 'c', 5_000)).toBe('done');
    });
  });

  describe('unreachable Redis', () => {
    it('connectRedis fails with a clear error that hides the password', async () => {
      const error = await connectRedis('redis://user:s3cret@127.0.0.1:1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CoordinationUnavailableError);
      expect(String((error as Error).message)).toMatch(/Could not connect to Redis/);
      expect(String((error as Error).message)).not.toContain('s3cret');
    });

    it('a store on a lost connection fails fast instead of queueing the command', async () => {
      const lost = await connectRedis(url());
      lost.disconnect();
      const store = new RedisIdempotencyStore({ client: lost, prefix, commandTimeoutMs: 5_000 });
      const started = Date.now();
      await expect(store.claim('x', 'a', 1_000)).rejects.toBeInstanceOf(CoordinationUnavailableError);
      expect(Date.now() - started).toBeLessThan(1_000);
    });
  });
});
