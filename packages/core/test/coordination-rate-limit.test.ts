import { describeBroker } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { runId, startWorkers, type Workers } from './fixtures/coordination-harness.js';

let workers: Workers | undefined;
afterEach(async () => {
  await workers?.stop();
  workers = undefined;
});

describeBroker('coordination: rate limit across processes', { variable: 'EVENTBUS_REDIS_URL' }, (url) => {
  it('4 processes at 2 per second, 60 events: no 1 s window holds more than 2 starts, within 5% of 30 s', async () => {
    const run = runId();
    workers = await startWorkers(4, {
      mode: 'rateLimit',
      redisUrl: url(),
      prefix: `test:${run}:`,
      consumers: 2,
      concurrency: 10,
      handlerMs: 5,
      limit: 2,
      per: 1_000,
    });
    const events = Array.from({ length: 60 }, (_, i) => ({ id: `${run}-${i}`, key: 'external-api' }));
    const began = Date.now();
    for (let w = 0; w < 4; w++) workers.feed(w, events.filter((_, i) => i % 4 === w));

    const runs = await workers.runs.waitForCount(60, { timeoutMs: 45_000, description: '60 handler runs' });
    const tookMs = Math.max(...runs.map((r) => r.end)) - began;
    // Any window [t, t + 1000) holds at most 2 starts ⇔ every start is ≥ 1000 ms after the one two before it.
    const tightest = (times: number[]) => {
      const sorted = [...times].sort((a, b) => a - b);
      return Math.min(...sorted.slice(2).map((s, i) => s - sorted[i]!));
    };
    // The limiter's own record: the Redis server time at which each start was admitted.
    const admitted = tightest(runs.map((r) => r.admittedAt!));
    // As the handlers saw it: the same plus each worker's scheduling delay (tens of ms on a loaded
    // machine), which the default 15 ms slot margin absorbs on a machine that is not overloaded.
    const observed = tightest(runs.map((r) => r.start));
    console.info(`[rate limit] 60 starts in ${tookMs} ms; tightest 3-start span: admitted ${admitted.toFixed(3)} ms, observed ${observed} ms`);
    expect(new Set(runs.map((r) => r.id)).size).toBe(60);
    expect(runs.every((r) => typeof r.admittedAt === 'number')).toBe(true);
    expect(admitted).toBeGreaterThanOrEqual(1_000);
    expect(tookMs).toBeLessThanOrEqual(30_000 * 1.05);
  }, 60_000);
});
