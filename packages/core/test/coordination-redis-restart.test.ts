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
  it('600 events each delivered twice: nothing lost, nothing run twice, the workers recover by themselves', async () => {
    redis = await startPrivateRedis();
    const run = runId();
    workers = await startWorkers(4, {
      mode: 'idempotency',
      redisUrl: redis.url,
      prefix: `test:${run}:`,
      consumers: 2,
      concurrency: 2,
      handlerMs: 20,
      lease: 3_000,
      commandTimeoutMs: 500,
      unavailableDelay: 300,
    });
    const events = Array.from({ length: 600 }, (_, i) => ({ id: `${run}-${i}`, key: `k${i % 10}` }));
    for (let w = 0; w < 4; w++) workers.feed(w, events.filter((_, i) => i % 4 === w || (i + 1) % 4 === w));

    await workers.runs.waitForCount(150, { timeoutMs: 30_000, description: '150 runs before the kill' });
    await redis.kill();
    const runsAtKill = workers.runs.count;
    expect(runsAtKill).toBeLessThan(600);
    // While Redis is down deliveries are nacked and retried, never run unguarded.
    await workers.settled.waitFor((s) => s.some((x) => x.outcome === 'nack'), { timeoutMs: 10_000, description: 'a nack during the outage' });
    await redis.start();

    const settled = await workers.settled.waitFor((s) => s.filter((x) => x.outcome === 'ack').length >= 1_200, {
      timeoutMs: 60_000,
      description: 'all 1,200 deliveries acked after the restart',
    });
    expect(settled.filter((s) => s.outcome === 'dead-letter')).toEqual([]);
    const runs = workers.runs.calls;
    expect(new Set(runs.map((r) => r.id)).size).toBe(600);
    expect(runs).toHaveLength(600);
    await workers.runs.expectNone(() => true, 1_500);
  }, 120_000);
});
