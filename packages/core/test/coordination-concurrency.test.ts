import { describeBroker } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { maxOverlap, runId, startWorkers, type Workers } from './fixtures/coordination-harness.js';

let workers: Workers | undefined;
afterEach(async () => {
  await workers?.stop();
  workers = undefined;
});

describeBroker('coordination: concurrency across processes', { variable: 'EVENTBUS_REDIS_URL' }, (url) => {
  it('4 processes under limit 3: never more than 3 handlers in flight', async () => {
    const run = runId();
    workers = await startWorkers(4, {
      mode: 'concurrency',
      redisUrl: url(),
      prefix: `test:${run}:`,
      consumers: 2,
      concurrency: 4,
      handlerMs: 15,
      limit: 3,
    });
    const events = Array.from({ length: 200 }, (_, i) => ({ id: `${run}-${i}`, key: 'shared' }));
    for (let w = 0; w < 4; w++) workers.feed(w, events.filter((_, i) => i % 4 === w));

    const runs = await workers.runs.waitForCount(200, { timeoutMs: 60_000, description: '200 handler runs' });
    expect(new Set(runs.map((r) => r.id)).size).toBe(200);
    const peak = maxOverlap(runs);
    expect(peak).toBeLessThanOrEqual(3);
    // The bound was reached, so the test would see a breach of it.
    expect(peak).toBe(3);
  }, 90_000);
});
