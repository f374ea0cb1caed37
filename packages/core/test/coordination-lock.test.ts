import { describeBroker } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { maxOverlap, runId, startWorkers, type Workers } from './fixtures/coordination-harness.js';

let workers: Workers | undefined;
afterEach(async () => {
  await workers?.stop();
  workers = undefined;
});

describeBroker('coordination: lock across processes', { variable: 'EVENTBUS_REDIS_URL' }, (url) => {
  it('4 processes × 2 consumers, 1,000 events on 10 keys: no two handlers of one key overlap', async () => {
    const run = runId();
    workers = await startWorkers(4, { mode: 'lock', redisUrl: url(), prefix: `test:${run}:`, consumers: 2, concurrency: 5, handlerMs: 2 });
    const events = Array.from({ length: 1_000 }, (_, i) => ({ id: `${run}-${i}`, key: `key-${i % 10}` }));
    for (let w = 0; w < 4; w++) workers.feed(w, events.filter((_, i) => i % 4 === w));

    const runs = await workers.runs.waitForCount(1_000, { timeoutMs: 60_000, description: '1,000 handler runs' });
    expect(new Set(runs.map((r) => r.id)).size).toBe(1_000);
    expect(new Set(runs.map((r) => r.pid)).size).toBe(4);
    for (let k = 0; k < 10; k++) {
      const ofKey = runs.filter((r) => r.key === `key-${k}`);
      expect(ofKey).toHaveLength(100);
      expect(maxOverlap(ofKey), `overlap on key-${k}`).toBe(1);
    }
    // Different keys did run side by side: the lock is per key, not global.
    expect(maxOverlap(runs)).toBeGreaterThan(1);
  }, 90_000);
});
