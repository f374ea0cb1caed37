import { afterEach, describe, expect, it } from 'vitest';
import { LeaseLostError } from '../coordination/guard.js';
import { MemoryLockStore } from '../coordination/memory-stores.js';
import type { LockStore } from '../coordination/stores.js';
import { maxOverlap, sleep, startJobBus } from '../../test/fixtures/coordination-harness.js';
import { ConfigError, CoordinationUnavailableError } from '../errors.js';
import { lock } from './lock.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

describe('lock', () => {
  it('never runs two handlers of one key at once, while different keys run side by side', async () => {
    const app = await startJobBus({ middleware: [lock({ key: (e) => (e.data as { key: string }).key })], concurrency: 10 });
    stops.push(app.stop);
    for (let i = 0; i < 40; i++) await app.publish(`k${i % 4}`, i);
    const runs = await app.runs.waitForCount(40);
    for (let k = 0; k < 4; k++) expect(maxOverlap(runs.filter((r) => r.key === `k${k}`))).toBe(1);
    expect(maxOverlap(runs)).toBeGreaterThan(1);
  });

  it('nacks with a delay when the lock stays busy past `wait`, and runs the event later', async () => {
    const store = new MemoryLockStore();
    const app = await startJobBus({
      middleware: [lock({ key: 'one', store, wait: 20, retryDelay: 50 })],
      handler: async (data) => sleep(data.n === 0 ? 200 : 1),
    });
    stops.push(app.stop);
    await app.publish('one', 0);
    await sleep(10);
    await app.publish('one', 1);
    const runs = await app.runs.waitForCount(2, { timeoutMs: 5_000 });
    const second = runs.find((r) => r.n === 1)!;
    expect(second.attempt).toBeGreaterThan(1);
    expect(second.start).toBeGreaterThanOrEqual(runs.find((r) => r.n === 0)!.end);
  });

  it('fires the handler signal with LeaseLostError when the lock is lost', async () => {
    const memory = new MemoryLockStore();
    const losing: LockStore = {
      tryAcquire: async (key, ttl) => {
        const lease = await memory.tryAcquire(key, ttl);
        return lease && { extend: async () => false, release: () => lease.release() };
      },
    };
    let reason: unknown;
    const app = await startJobBus({
      middleware: [lock({ key: 'k', store: losing, ttl: 60 })],
      maxAttempts: 1,
      handler: async (_data, ctx) => {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        reason = ctx.signal.reason;
      },
    });
    stops.push(app.stop);
    await app.publish('k', 1);
    await app.runs.waitForCount(1);
    expect(reason).toBeInstanceOf(LeaseLostError);
  });

  it('nacks without running while the store is unreachable, and runs once it is back', async () => {
    const memory = new MemoryLockStore();
    let failures = 3;
    const flaky: LockStore = {
      tryAcquire: async (key, ttl) => {
        if (failures-- > 0) throw new CoordinationUnavailableError('Redis did not answer lock acquire within 500 ms');
        return memory.tryAcquire(key, ttl);
      },
    };
    const app = await startJobBus({ middleware: [lock({ key: 'k', store: flaky, unavailableDelay: 10 })], maxAttempts: 1 });
    stops.push(app.stop);
    await app.publish('k', 1);
    const [run] = await app.runs.waitForCount(1);
    expect(run!.attempt).toBe(4);
    await app.runs.expectNone(() => true, 100);
  });

  it('names the bad option', () => {
    expect(() => lock({} as never)).toThrow(ConfigError);
    expect(() => lock({ key: 'k', ttl: 0 })).toThrow(/lock\.ttl/);
  });
});
