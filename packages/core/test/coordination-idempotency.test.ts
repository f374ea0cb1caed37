import { describeBroker } from '@org/eventbus/testing';
import { afterEach, expect, it } from 'vitest';
import { runId, startWorkers, type Workers } from './fixtures/coordination-harness.js';

let workers: Workers | undefined;
afterEach(async () => {
  await workers?.stop();
  workers = undefined;
});

describeBroker('coordination: idempotency across processes', { variable: 'EVENTBUS_REDIS_URL' }, (url) => {
  it('1,000 events each delivered twice (to two processes at once): every handler runs exactly once', async () => {
    const run = runId();
    workers = await startWorkers(4, { mode: 'idempotency', redisUrl: url(), prefix: `test:${run}:`, consumers: 2, concurrency: 10, handlerMs: 3 });
    const events = Array.from({ length: 1_000 }, (_, i) => ({ id: `${run}-${i}`, key: `k${i % 10}` }));
    // Each event goes to two different processes in the same batch, so the copies race.
    for (let w = 0; w < 4; w++) workers.feed(w, events.filter((_, i) => i % 4 === w || (i + 1) % 4 === w));

    const acked = await workers.settled.waitFor((s) => s.filter((x) => x.outcome === 'ack').length >= 2_000, {
      timeoutMs: 60_000,
      description: 'all 2,000 deliveries acked',
    });
    expect(acked.filter((s) => s.outcome === 'dead-letter')).toEqual([]);
    const runs = workers.runs.calls;
    expect(runs).toHaveLength(1_000);
    expect(new Set(runs.map((r) => r.id)).size).toBe(1_000);
    // Nothing more runs afterwards (a late redelivery would show here).
    await workers.runs.expectNone(() => true, 1_500);
  }, 90_000);
});
