import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, type EventBus, entry } from './bus.js';
import { defineEvent } from './contract.js';
import { ConfigError, RetryLaterError } from './errors.js';
import { EventbusHeaders } from './headers.js';
import { MemoryTransport } from './memory/transport.js';
import { idempotency } from './middleware/idempotency.js';
import { CLOCK_TOLERANCE_MS } from './schedule.js';
import { MemoryScheduleCancellations } from './schedule-cancellations.js';
import { createSpy } from './testing/spy.js';
import type { OutgoingMessage } from './transport.js';

const Reminder = defineEvent({ type: 'reminder.due', description: 'A reminder.', schema: z.object({ n: z.number() }) });
const Nudge = defineEvent({ type: 'reminder.nudged', description: 'A nudge.', schema: z.object({ n: z.number() }) });

let seq = 0;
const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});

/**
 * A memory transport that delivers scheduled messages at once, as a broker without a hold at publish
 * does (`holdsScheduledPublish: false`): only core's receive check keeps them from running early.
 */
function setup(options: { holds?: boolean; serialize?: boolean } & Partial<Parameters<typeof createEventBus>[0]> = {}) {
  const { holds = true, serialize = true, ...busOptions } = options;
  const transport = new MemoryTransport({ broker: `delays-${process.pid}-${++seq}`, serialize });
  const sent: OutgoingMessage[] = [];
  const publish = transport.publish.bind(transport);
  transport.publish = (messages, o) => {
    sent.push(...messages);
    return publish(holds ? messages : messages.map(({ notBefore: _held, ...now }) => now), o);
  };
  if (!holds) transport.capabilities.holdsScheduledPublish = false;
  const bus = createEventBus({ transport, source: '/test', ...busOptions });
  buses.push(bus);
  return { transport, bus, sent };
}

describe('publish with delay / deliverAt', () => {
  it('rejects bad values with a ConfigError naming the option, sending nothing', async () => {
    const { bus, sent } = setup();
    bus.handle(Reminder, {}, () => {});
    await bus.start();
    await expect(bus.publish(Reminder, { n: 1 }, { delay: -1 })).rejects.toThrow(/`delay`: must be a finite number of ms ≥ 0 \(got -1\)/);
    await expect(bus.publish(Reminder, { n: 1 }, { delay: Number.NaN })).rejects.toThrow(ConfigError);
    await expect(bus.publish(Reminder, { n: 1 }, { delay: 10, deliverAt: new Date() })).rejects.toThrow(/not both/);
    await expect(bus.publish(Reminder, { n: 1 }, { deliverAt: new Date('nope') })).rejects.toThrow(/`deliverAt`/);
    await expect(bus.publishBatch([entry(Reminder, { n: 1 })], { delay: -5 })).rejects.toThrow(/`delay`/);
    expect(sent).toHaveLength(0);
  });

  it('sets notBefore and the deliver-at header; a delay of 0 or a time already past is now', async () => {
    const { bus, sent } = setup();
    bus.handle(Reminder, {}, () => {});
    await bus.start();
    const before = Date.now();
    await bus.publish(Reminder, { n: 1 }, { delay: 60_000 });
    await bus.publish(Reminder, { n: 2 }, { delay: 0 });
    await bus.publish(Reminder, { n: 3 }, { deliverAt: Date.now() - 1_000 });
    const [later, zero, past] = sent;
    expect(later!.notBefore).toBeGreaterThanOrEqual(before + 60_000);
    expect(later!.headers[EventbusHeaders.deliverAt]).toBe(String(later!.notBefore));
    for (const m of [zero!, past!]) {
      expect(m.notBefore).toBeUndefined();
      expect(m.headers[EventbusHeaders.deliverAt]).toBeUndefined();
    }
  });

  it('publishBatch: the call schedules every entry for one time; an entry of its own wins', async () => {
    const { bus, sent } = setup();
    bus.handle(Reminder, {}, () => {});
    await bus.start();
    const at = Date.now() + 60_000;
    await bus.publishBatch([entry(Reminder, { n: 1 }), entry(Reminder, { n: 2 }), entry(Reminder, { n: 3 }, { delay: 120_000 })], { deliverAt: at });
    expect(sent.map((m) => m.notBefore)).toEqual([at, at, expect.any(Number)]);
    expect(sent[2]!.notBefore).toBeGreaterThan(at);
  });

  for (const serialize of [true, false]) {
    it(`a transport that delivers at once (serialize: ${serialize}): the receive check holds the event until its time, same attempt`, async () => {
      const { bus } = setup({ holds: false, serialize });
      const seen = createSpy<{ at: number; attempt: number }>();
      bus.handle(Reminder, {}, (_e, ctx) => seen.fn({ at: Date.now(), attempt: ctx.attempt }));
      await bus.start();
      const deliverAt = Date.now() + 300;
      await bus.publish(Reminder, { n: 1 }, { deliverAt });
      const [got] = await seen.waitForCount(1, { timeoutMs: 5_000 });
      expect(got!.at).toBeGreaterThanOrEqual(deliverAt - CLOCK_TOLERANCE_MS);
      expect(got!.attempt).toBe(1);
      await seen.expectNone(() => true, 200);
    });
  }

  it('ctx.emit with a delay: the held emit keeps it; a failed attempt emits nothing', async () => {
    const { bus } = setup({ holds: false, defaults: { backoff: { initialMs: 5, maxMs: 5 } } });
    const nudged = createSpy<number>();
    bus.handle(Reminder, { emits: [Nudge], maxAttempts: 2 }, async (event, ctx) => {
      await ctx.emit(Nudge, { n: event.data.n }, { delay: 300 });
      if (ctx.attempt === 1) throw new Error('first attempt fails after emitting');
    });
    bus.handle(Nudge, {}, () => nudged.fn(Date.now()));
    await bus.start();
    const published = Date.now();
    await bus.publish(Reminder, { n: 1 });
    const [at] = await nudged.waitForCount(1, { timeoutMs: 5_000 });
    expect(at! - published).toBeGreaterThanOrEqual(300 - CLOCK_TOLERANCE_MS);
    await nudged.expectNone(() => true, 400);
  });
});

describe('ctx.retryAfter', () => {
  it('a deferred attempt releases its idempotency claim and drops its emits; the retry runs and emits once', async () => {
    const { bus } = setup();
    const calls = createSpy<number>();
    const nudged = createSpy<number>();
    bus.handle(Reminder, { emits: [Nudge], middleware: [idempotency({ ttl: 60_000 })] }, async (event, ctx) => {
      calls.fn(ctx.attempt);
      await ctx.emit(Nudge, { n: calls.count });
      if (calls.count === 1) await ctx.retryAfter(new Date(Date.now() + 100));
      else if (calls.count === 2) throw new RetryLaterError(100);
    });
    bus.handle(Nudge, {}, (event) => nudged.fn(event.data.n));
    await bus.start();
    await bus.publish(Reminder, { n: 1 });
    await calls.waitForCount(3, { timeoutMs: 5_000 });
    expect(await nudged.waitForCount(1)).toEqual([3]);
    await nudged.expectNone(() => true, 300);
    expect(calls.calls).toEqual([1, 1, 1]);
  });

  it('a bad time rejects with a ConfigError naming retryAfter', async () => {
    const { bus } = setup();
    const errors = createSpy<unknown>();
    bus.handle(Reminder, { maxAttempts: 1 }, async (_e, ctx) => {
      await ctx.retryAfter(-3).catch((error: unknown) => errors.fn(error));
    });
    await bus.start();
    await bus.publish(Reminder, { n: 1 });
    const [error] = await errors.waitForCount(1);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/`retryAfter`/);
  });

  it('retryLater.maxDeferrals is checked at construction', () => {
    expect(() => setup({ retryLater: { maxDeferrals: -1 } })).toThrow(/retryLater.maxDeferrals/);
  });
});

describe('cancelScheduled', () => {
  it('a transport that delivers at once: the cancelled event is acked without running when due, the other runs', async () => {
    const cancellations = new MemoryScheduleCancellations();
    const { bus } = setup({ holds: false, cancellations });
    const seen = createSpy<number>();
    bus.handle(Reminder, {}, (event) => seen.fn(event.data.n));
    await bus.start();
    const deliverAt = Date.now() + 300;
    const first = await bus.publish(Reminder, { n: 1 }, { deliverAt });
    await bus.publish(Reminder, { n: 2 }, { deliverAt });
    await bus.cancelScheduled(first.id, { deliverAt });
    expect(await seen.waitForCount(1, { timeoutMs: 5_000 })).toEqual([2]);
    await seen.expectNone(() => true, 300);
  });

  it('without the cancellations option it throws naming it', async () => {
    const { bus } = setup();
    await expect(bus.cancelScheduled('some-id')).rejects.toThrow(/bus option `cancellations`/);
  });
});

describe('MemoryTransport maxDelayMs', () => {
  it('is a whole number of ms ≥ 1000', () => {
    expect(() => new MemoryTransport({ maxDelayMs: 10 })).toThrow(/`maxDelayMs`/);
    expect(new MemoryTransport({ maxDelayMs: 5_000 }).capabilities.maxDelayMs).toBe(5_000);
  });
});
