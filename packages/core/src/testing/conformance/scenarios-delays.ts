import { expect } from 'vitest';
import type { CloudEvent } from '../../envelope.js';
import { ConfigError, RetryLaterError } from '../../errors.js';
import { EventbusHeaders } from '../../headers.js';
import { CLOCK_TOLERANCE_MS } from '../../schedule.js';
import { MemoryScheduleCancellations } from '../../schedule-cancellations.js';
import { createSpy } from '../spy.js';
import { formatDelayReport, measureDelayedDelivery } from './delay-lateness.js';
import { readDeadLetters, scaled } from './harness.js';
import type { ConformanceOptions } from './options.js';
import { check, type Scenario } from './scenario.js';

/** What a handler saw of one delivery: when it ran, against which time, with which attempt. */
interface Seen {
  event: CloudEvent<{ n: number }>;
  at: number;
  attempt: number;
}

/** The scaled-down `maxDelayMs` the beyond-max scenario gives the transport (ms, ≥ 1000). */
function scaledMaxDelay(options: ConformanceOptions): number {
  return options.scaledMaxDelayMs ?? 1_000;
}

export const delayScenarios: Scenario[] = [
  {
    name: 'delay-never-early',
    title: 'events published with delays of 1-3 s are each handled once, never before their time; lateness p50/p99 reported',
    slow: true,
    async run(h, env) {
      const contract = h.contract('delay-spread');
      const group = h.group();
      const consumer = await h.bus();
      const publisher = await h.bus();
      const report = await measureDelayedDelivery(publisher, consumer, contract, group, {
        count: scaled(40, env.options.scale),
        minDelayMs: 1_000,
        maxDelayMs: 3_000,
      });
      console.log(formatDelayReport(report));
      expect(report.early, `events handled more than ${CLOCK_TOLERANCE_MS} ms before their time`).toBe(0);
      expect(report.attempts, 'a deferral is not an attempt').toEqual([1]);
    },
  },
  {
    name: 'delay-beyond-max',
    title: "a delay of 3× the transport's (scaled-down) maxDelayMs arrives on time, in hops, still attempt 1",
    slow: true,
    async run(h, env) {
      const make = env.options.makeTransport ?? env.skip('the conformance test gives no makeTransport({ maxDelayMs }) hook');
      const maxDelayMs = scaledMaxDelay(env.options);
      const factory = () => make({ maxDelayMs });
      const consumer = await h.bus({ factory });
      expect(consumer.transport.capabilities.maxDelayMs, 'makeTransport honours maxDelayMs').toBe(maxDelayMs);
      const publisher = await h.bus({ factory });
      const report = await measureDelayedDelivery(publisher, consumer, h.contract('delay-long'), h.group(), {
        count: 3,
        minDelayMs: 3 * maxDelayMs,
        maxDelayMs: 3 * maxDelayMs + 200,
      });
      console.log(formatDelayReport({ ...report, transport: `${report.transport} (maxDelayMs ${maxDelayMs})` }));
      expect(report.early, 'handled before their time').toBe(0);
      expect(report.attempts, 'hops are not attempts').toEqual([1]);
    },
  },
  {
    name: 'delay-survives-restart',
    title: 'an event delayed 2 s survives its consumer stopping and a new one starting: handled once, after its time',
    async run(h) {
      const contract = h.contract('delay-restart');
      const group = h.group();
      const first = await h.bus();
      const firstSeen = createSpy<Seen>();
      first.handle(contract, { group }, (event, ctx) => firstSeen.fn({ event, at: Date.now(), attempt: ctx.attempt }));
      await first.start();
      const publisher = await h.bus();
      const deliverAt = Date.now() + 2_000;
      const published = await publisher.publish(contract, { n: 1 }, { deliverAt });
      await first.stop();
      expect(firstSeen.count, 'the stopped consumer never ran it').toBe(0);

      const second = await h.bus();
      const seen = createSpy<Seen>();
      second.handle(contract, { group }, (event, ctx) => seen.fn({ event, at: Date.now(), attempt: ctx.attempt }));
      await second.start();
      const [got] = await seen.waitForCount(1, { timeoutMs: 30_000, description: 'the delayed event after the restart' });
      check(got, 'nothing handled');
      expect(got.event.id).toBe(published.id);
      expect(got.at, 'not before its time').toBeGreaterThanOrEqual(deliverAt - CLOCK_TOLERANCE_MS);
      await seen.expectNone(() => true, 1_500);
      expect(seen.count, 'handled once').toBe(1);
    },
  },
  {
    name: 'retry-after-not-attempts',
    title: 'ctx.retryAfter / RetryLaterError bring the delivery back at its time without using up maxAttempts; past maxDeferrals it is dead-lettered',
    slow: true,
    async run(h) {
      const contract = h.contract('retry-after');
      const group = h.group();
      const calls = createSpy<Seen>();
      const handled = createSpy<number>();
      const bus = await h.bus();
      bus.handle(contract, { group, maxAttempts: 2 }, async (event, ctx) => {
        calls.fn({ event, at: Date.now(), attempt: ctx.attempt });
        // Two ways of saying "not now": the context method, then the error.
        if (calls.count <= 2) return ctx.retryAfter(200);
        if (calls.count <= 4) throw new RetryLaterError(200);
        handled.fn(event.data.n);
      });
      await bus.start();
      const publisher = await h.bus();
      await publisher.publish(contract, { n: 7 });
      await handled.waitForCount(1, { timeoutMs: 30_000, description: 'the handler succeeding after 4 deferrals' });
      expect(calls.count).toBe(5);
      expect(
        calls.calls.map((c) => c.attempt),
        'attempt stays 1',
      ).toEqual([1, 1, 1, 1, 1]);
      for (let i = 1; i < calls.count; i++) {
        const gap = calls.calls[i]!.at - calls.calls[i - 1]!.at;
        expect(gap, `deferral ${i} came back after 200 ms`).toBeGreaterThanOrEqual(200 - CLOCK_TOLERANCE_MS);
      }

      // The bound: a handler that always says "later" is dead-lettered after maxDeferrals, with a reason saying so.
      const bounded = h.contract('retry-after-bound');
      const boundGroup = h.group();
      const boundCalls = createSpy<number>();
      const boundBus = await h.bus({ retryLater: { maxDeferrals: 2 } });
      boundBus.handle(bounded, { group: boundGroup, maxAttempts: 2 }, async (_event, ctx) => {
        boundCalls.fn(ctx.attempt);
        await ctx.retryAfter(100);
      });
      await boundBus.start();
      await publisher.publish(bounded, { n: 8 });
      const { letters } = await readDeadLetters(h, boundGroup, [bounded.channel]);
      const [letter] = await letters.waitForCount(1, { timeoutMs: 30_000, description: 'the dead letter past maxDeferrals' });
      check(letter, 'no dead letter');
      expect(letter.headers[EventbusHeaders.deadLetterReason]).toContain('maxDeferrals');
      expect(boundCalls.calls, 'two deferrals, then the third call is dead-lettered; attempt stays 1').toEqual([1, 1, 1]);
      // Nothing of the first, successful event was dead-lettered.
      const firstLetters = await readDeadLetters(h, group, [contract.channel]);
      await firstLetters.letters.expectNone(() => true, 500);
    },
  },
  {
    name: 'delay-key-order',
    title: 'events with one key and the same delay are handled in publish order (where the transport orders per key)',
    async run(h, env) {
      const contract = h.contract('delay-key');
      const group = h.group();
      const consumer = await h.bus();
      if (!consumer.transport.capabilities.orderingPerKey) env.skip('the transport does not order per key');
      const seen = createSpy<Seen>();
      consumer.handle(contract, { group }, (event, ctx) => seen.fn({ event, at: Date.now(), attempt: ctx.attempt }));
      await consumer.start();
      const publisher = await h.bus();
      const count = 10;
      // Each one's time is at least its publish call's start + 1 s.
      const due: number[] = [];
      for (let n = 0; n < count; n++) {
        due.push(Date.now() + 1_000);
        await publisher.publish(contract, { n }, { key: 'one-key', delay: 1_000 });
      }
      await seen.waitForCount(count, { timeoutMs: 30_000, description: `${count} delayed events of one key` });
      expect(seen.calls.map((c) => c.event.data.n)).toEqual(Array.from({ length: count }, (_, n) => n));
      for (const [i, c] of seen.calls.entries()) expect(c.at, `event ${i} not early`).toBeGreaterThanOrEqual(due[i]! - CLOCK_TOLERANCE_MS);
    },
  },
  {
    name: 'delay-cancel',
    title: 'a cancelled scheduled event is never handled, the others are; cancelScheduled without a store throws naming the option',
    async run(h) {
      const contract = h.contract('delay-cancel');
      const group = h.group();
      const cancellations = new MemoryScheduleCancellations();
      const consumer = await h.bus({ cancellations });
      const seen = createSpy<number>();
      consumer.handle(contract, { group }, (event) => seen.fn(event.data.n));
      await consumer.start();
      const publisher = await h.bus({ cancellations });
      const events = [];
      for (let n = 1; n <= 3; n++) events.push(await publisher.publish(contract, { n }, { delay: 1_500 }));
      await publisher.cancelScheduled(events[1]!.id, { deliverAt: Date.now() + 1_500 });
      await seen.waitForCount(2, { timeoutMs: 30_000, description: 'the two events not cancelled' });
      await seen.expectNone(() => true, 1_500);
      expect([...seen.calls].sort()).toEqual([1, 3]);

      const without = await h.bus();
      await expect(without.cancelScheduled(events[0]!.id)).rejects.toThrow(ConfigError);
      await expect(without.cancelScheduled(events[0]!.id)).rejects.toThrow(/cancellations/);
    },
  },
];
