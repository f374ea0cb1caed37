import { describeBroker } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { runId, startWorkers, type Workers } from './fixtures/coordination-harness.js';
import { type PrivateRedis, startPrivateRedis } from './fixtures/coordination-redis-server.js';

let workers: Workers | undefined;
let redis: PrivateRedis | undefined;
afterEach(async () => {
  await workers?.stop();
  await redis?.stop();
  workers = undefined;
  redis = undefined;
});

// The variable gates the block like every Redis test; the server itself is a private one on another port.
describeBroker('coordination: Redis killed and restarted mid-run', { variable: 'EVENTBUS_REDIS_URL' }, () => {
  it('300 events each delivered twice through idempotency + concurrency + rate limit + lock: nothing lost, nothing run twice, recovery by itself', async () => {
    redis = await startPrivateRedis();
    const run = runId();
    workers = await startWorkers(4, {
      mode: 'all',
      redisUrl: redis.url,
      prefix: `test:${run}:`,
      consumers: 2,
      concurrency: 2,
      handlerMs: 20,
      limit: 16, // concurrency permits
      rateLimit: 10_000, // per second: far above the pace, so every start goes through its scripts at once
      per: 1_000,
      lease: 3_000,
      commandTimeoutMs: 500,
      unavailableDelay: 300,
    });
    const events = Array.from({ length: 300 }, (_, i) => ({ id: `${run}-${i}`, key: `k${i % 10}` }));
    for (let w = 0; w < 4; w++) workers.feed(w, events.filter((_, i) => i % 4 === w || (i + 1) % 4 === w));

    await workers.runs.waitForCount(75, { timeoutMs: 30_000, description: '75 runs before the kill' });
    await redis.kill();
    const runsAtKill = workers.runs.count;
    expect(runsAtKill).toBeLessThan(300);
    // While Redis is down deliveries are nacked and retried, never run unguarded.
    await workers.settled.waitFor((s) => s.some((x) => x.outcome === 'nack'), { timeoutMs: 10_000, description: 'a nack during the outage' });
    await redis.start();

    const settled = await workers.settled.waitFor((s) => s.filter((x) => x.outcome === 'ack').length >= 600, {
      timeoutMs: 60_000,
      description: 'all 600 deliveries acked after the restart',
    });
    expect(settled.filter((s) => s.outcome === 'dead-letter')).toEqual([]);
    const runs = workers.runs.calls;
    expect(new Set(runs.map((r) => r.id)).size).toBe(300);
    expect(runs).toHaveLength(300);
    await workers.runs.expectNone(() => true, 1_500);
  }, 120_000);
});
