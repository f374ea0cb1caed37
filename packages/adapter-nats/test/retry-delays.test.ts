import { createEventBus, defineEvent } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterAll, expect, it } from 'vitest';
import { z } from 'zod';
import { Fixture, URL_VARIABLE } from './helpers.js';

describeBroker('NATS retries with delays', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  afterAll(() => fixture.cleanup());

  // Regression: with the consumer's `backoff` table on (the old default), nats-server 2.9 never
  // sent the third delivery after two NAKs with delays of a few hundred ms.
  it('a handler that fails twice with growing delays gets its third attempt', async () => {
    const contract = defineEvent({ type: `${fixture.prefix}.retried`, description: 'retried', schema: z.object({ n: z.number() }) });
    // The default ack-wait (30 s): the old default backoff table was derived from it.
    const bus = createEventBus({ transport: fixture.transport({ ackWaitMs: 30_000 }), source: '/tests/nats' });
    const attempts = createSpy<number>();
    bus.handle(contract, { group: 'retry', maxAttempts: 4, backoff: { initialMs: 300, maxMs: 2000, jitter: false } }, (_e, ctx) => {
      attempts.fn(ctx.attempt);
      if (ctx.attempt < 3) throw new Error('not yet');
    });
    await bus.start();
    await bus.publish(contract, { n: 1 });
    await attempts.waitForCount(3, { timeoutMs: 15_000 });
    expect(attempts.calls).toEqual([1, 2, 3]);
    await bus.stop();
  });
});
