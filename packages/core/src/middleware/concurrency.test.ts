import { afterEach, describe, expect, it } from 'vitest';
import { MemorySemaphoreStore } from '../coordination/memory-stores.js';
import { maxOverlap, sleep, startJobBus } from '../../test/fixtures/coordination-harness.js';
import { ConfigError } from '../errors.js';
import { eventually } from '../testing/spy.js';
import { concurrency } from './concurrency.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

describe('concurrency', () => {
  it('keeps at most `limit` handlers of a key in flight', async () => {
    const app = await startJobBus({ middleware: [concurrency({ key: 'api', limit: 3 })], concurrency: 10 });
    stops.push(app.stop);
    for (let i = 0; i < 30; i++) await app.publish('api', i);
    const runs = await app.runs.waitForCount(30);
    expect(maxOverlap(runs)).toBe(3);
  });

  it('releases the permit on failure and on timeout, so later work still runs', async () => {
    const store = new MemorySemaphoreStore();
    const app = await startJobBus({
      middleware: [concurrency({ key: 'api', limit: 1, store, wait: 2_000 })],
      timeout: 50,
      handler: async (data, ctx) => {
        if (ctx.attempt === 1 && data.n === 0) throw new Error('boom');
        if (ctx.attempt === 1 && data.n === 1) {
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          throw ctx.signal.reason;
        }
      },
    });
    stops.push(app.stop);
    await app.publish('api', 0);
    await app.publish('api', 1);
    await app.publish('api', 2);
    const runs = await app.runs.waitForCount(3, { timeoutMs: 5_000 });
    expect(runs.map((r) => r.n).sort()).toEqual([0, 1, 2]);
    // Every permit came back (the last release follows the last run by a moment).
    await eventually(() => store.tryAcquire('api', 1, 1_000), (lease) => lease !== undefined);
  });

  it('frees a permit whose holder died once its TTL passes', async () => {
    const store = new MemorySemaphoreStore();
    expect(await store.tryAcquire('api', 1, 30)).toBeDefined();
    expect(await store.tryAcquire('api', 1, 30)).toBeUndefined();
    await sleep(40);
    expect(await store.tryAcquire('api', 1, 30)).toBeDefined();
  });

  it('names the bad option', () => {
    expect(() => concurrency({ key: 'k', limit: 0 })).toThrow(ConfigError);
    expect(() => concurrency({ key: 'k', limit: 1.5 })).toThrow(/concurrency\.limit/);
  });
});
