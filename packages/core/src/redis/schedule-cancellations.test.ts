import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../bus.js';
import { defineEvent } from '../contract.js';
import { CoordinationUnavailableError } from '../errors.js';
import { MemoryTransport } from '../memory/transport.js';
import { describeBroker } from '../testing/env.js';
import { createSpy } from '../testing/spy.js';
import { connectRedis, type Redis } from './client.js';
import { RedisScheduleCancellations } from './schedule-cancellations.js';

const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const Reminder = defineEvent({ type: 'reminder.due', description: 'A reminder.', schema: z.object({ n: z.number() }) });

describeBroker('RedisScheduleCancellations', { variable: 'EVENTBUS_REDIS_URL' }, (url) => {
  const clients: Redis[] = [];
  const prefix = `test:${run}:`;
  beforeAll(async () => {
    clients.push(await connectRedis(url()), await connectRedis(url()));
  });
  afterAll(() => {
    for (const c of clients) c.disconnect();
  });

  it('records a cancellation until its time, then forgets it (the key expires)', async () => {
    const store = new RedisScheduleCancellations({ client: clients[0]!, prefix });
    await store.cancel('a', Date.now() + 150);
    expect(await store.isCancelled('a')).toBe(true);
    expect(await store.isCancelled('b')).toBe(false);
    expect(await clients[0]!.pttl(`${prefix}cancelled:a`)).toBeLessThanOrEqual(150);
    await expect.poll(() => store.isCancelled('a'), { timeout: 2_000, interval: 50 }).toBe(false);
  });

  it('a cancel through one bus stops the event in a consumer with its own client (another process)', async () => {
    const broker = `redis-cancel-${process.pid}`;
    const consumer = createEventBus({
      transport: new MemoryTransport({ broker }),
      source: '/consumer',
      cancellations: new RedisScheduleCancellations({ client: clients[0]!, prefix }),
    });
    const publisher = createEventBus({
      transport: new MemoryTransport({ broker }),
      source: '/publisher',
      cancellations: new RedisScheduleCancellations({ client: clients[1]!, prefix }),
    });
    try {
      const seen = createSpy<number>();
      consumer.handle(Reminder, {}, (event) => seen.fn(event.data.n));
      await consumer.start();
      const deliverAt = Date.now() + 300;
      const cancelled = await publisher.publish(Reminder, { n: 1 }, { deliverAt });
      await publisher.publish(Reminder, { n: 2 }, { deliverAt });
      await publisher.cancelScheduled(cancelled.id, { deliverAt });
      expect(await seen.waitForCount(1, { timeoutMs: 5_000 })).toEqual([2]);
      await seen.expectNone(() => true, 400);
    } finally {
      await Promise.all([consumer.stop(), publisher.stop()]);
    }
  });

  it('an unreachable Redis is a CoordinationUnavailableError, within the command timeout', async () => {
    const dead = await connectRedis(url());
    dead.disconnect();
    const store = new RedisScheduleCancellations({ client: dead, prefix, commandTimeoutMs: 300 });
    await expect(store.isCancelled('x')).rejects.toBeInstanceOf(CoordinationUnavailableError);
  });
});
