import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from '../coordination/memory-stores.js';
import { sleep, startJobBus } from '../../test/fixtures/coordination-harness.js';
import { ConfigError } from '../errors.js';
import { rateLimit } from './rate-limit.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

/** Smallest gap between a start and the one `limit` places before it: ≥ per means no window overfills. */
function tightestSpan(starts: number[], limit: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  return Math.min(...sorted.slice(limit).map((s, i) => s - sorted[i]!));
}

// Windows are checked on the limiter's admission times (ctx.state), not on the handler's clock,
// which adds the machine's scheduling delay (the slot margin absorbs that on a machine not overloaded).
describe('rateLimit', () => {
  it('never lets more than `limit` starts into any window, and waits instead of nacking', async () => {
    const app = await startJobBus({ middleware: [rateLimit({ key: 'api', limit: 4, per: 200 })], concurrency: 20 });
    stops.push(app.stop);
    const began = Date.now();
    for (let i = 0; i < 20; i++) await app.publish('api', i);
    const runs = await app.runs.waitForCount(20, { timeoutMs: 5_000 });
    expect(tightestSpan(runs.map((r) => r.admittedAt!), 4)).toBeGreaterThanOrEqual(200);
    expect(runs.every((r) => r.attempt === 1)).toBe(true);
    // 20 starts at 4 per 200 ms: 4 windows after the first, so about 800 ms.
    expect(Date.now() - began).toBeLessThan(1_500);
  });

  it('is a sliding window: a burst at a window boundary does not let twice the limit through', async () => {
    const store = new MemoryRateLimitStore();
    const window = { limit: 3, perMs: 1_000 };
    const granted: number[] = [];
    const take = async () => {
      const r = await store.reserve('k', { ...window, marginMs: 0, maxWaitMs: 0 });
      if (r.reserved && (r.startedAt ?? (await store.claim('k', r.token, window)).startedAt) !== undefined) granted.push(Date.now());
    };
    for (let i = 0; i < 3; i++) await take();
    // A fixed 1 s window whose boundary fell in this pause would admit 3 more; a sliding one admits none.
    await sleep(30);
    for (let i = 0; i < 3; i++) await take();
    expect(granted).toHaveLength(3);
  });

  it('serves waiters roughly first come, first served', async () => {
    const store = new MemoryRateLimitStore();
    const waits = [];
    for (let i = 0; i < 8; i++) {
      const r = await store.reserve('k', { limit: 2, perMs: 1_000, marginMs: 0, maxWaitMs: 10_000 });
      waits.push(r.reserved ? r.waitMs : Number.NaN);
    }
    // Slots go out in arrival order, two per window.
    expect(waits.map((w) => Math.round(w / 1_000))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);

    const app = await startJobBus({ middleware: [rateLimit({ key: 'api', limit: 1, per: 30 })], concurrency: 10 });
    stops.push(app.stop);
    for (let i = 0; i < 8; i++) await app.publish('api', i);
    const runs = await app.runs.waitForCount(8, { timeoutMs: 5_000 });
    const order = [...runs].sort((a, b) => a.admittedAt! - b.admittedAt!).map((r) => r.n);
    // A timer that fires late may let a neighbour go first, never one far behind.
    for (const [position, n] of order.entries()) expect(Math.abs(position - n)).toBeLessThanOrEqual(2);
  });

  it('nacks until about its slot when the slot is beyond maxWait, and loses nothing', async () => {
    const app = await startJobBus({ middleware: [rateLimit({ key: 'api', limit: 1, per: 50, maxWait: 0 })], concurrency: 5, maxAttempts: 1 });
    stops.push(app.stop);
    for (let i = 0; i < 5; i++) await app.publish('api', i);
    const runs = await app.runs.waitForCount(5, { timeoutMs: 5_000 });
    expect(runs.some((r) => r.attempt > 1)).toBe(true);
    expect(tightestSpan(runs.map((r) => r.admittedAt!), 1)).toBeGreaterThanOrEqual(50);
  });

  it("whenLimited: 'retryAfter' defers over-limit deliveries instead of holding them: attempt 1, no window overfilled", async () => {
    const app = await startJobBus({
      middleware: [rateLimit({ key: 'api', limit: 2, per: 150, whenLimited: 'retryAfter' })],
      concurrency: 1,
      maxAttempts: 1,
    });
    stops.push(app.stop);
    const began = Date.now();
    for (let i = 0; i < 8; i++) await app.publish('api', i);
    const runs = await app.runs.waitForCount(8, { timeoutMs: 10_000 });
    expect(runs.every((r) => r.attempt === 1)).toBe(true);
    expect(tightestSpan(runs.map((r) => r.admittedAt!), 2)).toBeGreaterThanOrEqual(150);
    // 8 starts at 2 per 150 ms take at least 3 windows.
    expect(Date.now() - began).toBeGreaterThanOrEqual(450);
    expect(() => rateLimit({ key: 'k', limit: 1, per: 100, whenLimited: 'later' as never })).toThrow(/rateLimit\.whenLimited/);
  });

  it("whenLimited: 'retryAfter' frees the concurrency slot: with concurrency 1, another key runs while a limited one waits", async () => {
    for (const whenLimited of ['wait', 'retryAfter'] as const) {
      const app = await startJobBus({
        middleware: [rateLimit({ key: (event) => (event.data as { key: string }).key, limit: 1, per: 1_000, whenLimited })],
        concurrency: 1,
      });
      stops.push(app.stop);
      await app.publish('limited', 0);
      await app.runs.waitForCount(1);
      const began = Date.now();
      await app.publish('limited', 1);
      await app.publish('other', 2);
      await app.runs.waitFor((runs) => runs.some((r) => r.key === 'other'), { timeoutMs: 5_000 });
      const otherRun = app.runs.calls.find((r) => r.key === 'other')!;
      // 'wait' holds the one slot for the limited event's next window (~1 s); 'retryAfter' hands it back.
      if (whenLimited === 'wait') expect(otherRun.start - began).toBeGreaterThanOrEqual(800);
      else expect(otherRun.start - began).toBeLessThan(500);
    }
  });

  it('names the bad option', () => {
    expect(() => rateLimit({ key: 'k', limit: 2 } as never)).toThrow(/rateLimit\.per/);
    expect(() => rateLimit({ key: 'k', limit: 0, per: 1000 })).toThrow(ConfigError);
  });
});
