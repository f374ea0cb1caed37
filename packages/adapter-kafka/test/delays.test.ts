import { ConfigError, type Delivery, deferHeaders, EventbusHeaders } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { holdPlan } from '../src/delivery.js';
import type { KafkaTransport } from '../src/index.js';
import { DELAY_TIER_MS } from '../src/topology.js';
import { bodyOf, deleteRunTopics, message, runId, testTransport } from './helpers.js';

const TIERS = DELAY_TIER_MS.map((holdMs) => ({ topic: `t${holdMs}`, holdMs }));

describe('kafka delay tiers', () => {
  it('holds a copy in the longest tier not longer than the wait, and under a second in the retry topic', () => {
    expect(holdPlan(TIERS, 'retry', 10_000 + 3_600_000, 10_000)).toEqual({ topic: 't1024000', hopUntil: 10_000 + 1_024_000 });
    expect(holdPlan(TIERS, 'retry', 10_000 + 5_500, 10_000)).toEqual({ topic: 't4000', hopUntil: 14_000 });
    expect(holdPlan(TIERS, 'retry', 10_000 + 1_000, 10_000)).toEqual({ topic: 't1000', hopUntil: 11_000 });
    expect(holdPlan(TIERS, 'retry', 10_000 + 999, 10_000)).toEqual({ topic: 'retry', hopUntil: 10_999 });
    // A few ms beyond a tier: held there that much longer, no hop for them.
    expect(holdPlan(TIERS, 'retry', 10_000 + 4_004, 10_000)).toEqual({ topic: 't4000', hopUntil: 14_004 });
  });

  it('maxDelayMs: whole ms from 1000, default an hour, the capability; anything else a ConfigError naming it', () => {
    expect(testTransport('127.0.0.1:9092').capabilities.maxDelayMs).toBe(3_600_000);
    expect(testTransport('127.0.0.1:9092', { maxDelayMs: 1500 }).capabilities.maxDelayMs).toBe(1500);
    for (const bad of [999, 0, 1500.5, -1, Number.NaN]) {
      expect(() => testTransport('127.0.0.1:9092', { maxDelayMs: bad })).toThrow(ConfigError);
      expect(() => testTransport('127.0.0.1:9092', { maxDelayMs: bad })).toThrow(/`maxDelayMs`/);
    }
  });
});

interface Seen {
  n: number;
  key: string | undefined;
  attempt: number;
  at: number;
  headers: Record<string, string>;
}

function seen(delivery: Delivery): Seen {
  const { message } = delivery;
  return { n: bodyOf(message.body).n, key: message.key, attempt: delivery.attempt, at: Date.now(), headers: message.headers };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describeBroker('kafka delays', { variable: 'EVENTBUS_KAFKA_BROKERS' }, (brokers) => {
  const open: KafkaTransport[] = [];
  const transport = async (options = {}) => {
    const t = testTransport(brokers(), options);
    open.push(t);
    await t.connect();
    return t;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(() => deleteRunTopics(brokers()), 60_000);

  it('defer: the copy comes back to the deferring group only, not before its time, with the same attempt', async () => {
    const id = runId();
    const channel = `delay-${id}`;
    const t = await transport();
    const deferring = createSpy<Seen>();
    const other = createSpy<Seen>();
    const holds = new Map<number, number>();
    await t.subscribe({ group: `deferring-${id}`, channels: [channel], prefetch: 4 }, async (delivery) => {
      deferring.fn(seen(delivery));
      // Attempt 2 first (a nack with no delay), so "the same attempt" is not just the default 1.
      if (delivery.attempt === 1) return delivery.nack();
      if (!holds.has(1)) {
        const notBefore = Date.now() + 1500;
        holds.set(1, notBefore);
        return delivery.defer(notBefore, deferHeaders(delivery, notBefore, false));
      }
      return delivery.ack();
    });
    await t.subscribe({ group: `other-${id}`, channels: [channel], prefetch: 4 }, async (delivery) => {
      other.fn(seen(delivery));
      await delivery.ack();
    });
    await t.publish([message(channel, 1, { key: 'k' })]);
    const calls = await deferring.waitForCount(3, { timeoutMs: 20_000 });
    const [first, second, copy] = calls as [Seen, Seen, Seen];
    expect([first.attempt, second.attempt, copy.attempt]).toEqual([1, 2, 2]);
    expect(copy.at).toBeGreaterThanOrEqual(holds.get(1)!);
    // The hold was served: core has nothing left to wait for.
    expect(copy.headers[EventbusHeaders.notBefore]).toBeUndefined();
    expect(copy.key).toBe('k');
    expect(other.calls.map((c) => [c.n, c.attempt])).toEqual([[1, 1]]);
    await deferring.expectNone(() => true, 1000);
    expect(other.count).toBe(1);
  }, 60_000);

  it('a long hold does not hold back a short one of the same key, and a wait hops down the tiers never early', async () => {
    const id = runId();
    const channel = `tiers-${id}`;
    const t = await transport();
    const handled = createSpy<Seen>();
    const holds = new Map<number, number>();
    const started = Date.now();
    // 1: 9 s (4 s tier, 4 s tier, 1 s tier, then under a second exact); 2: 1.5 s, published after it with the same key.
    const delays: Record<number, number> = { 1: 9000, 2: 1500 };
    await t.subscribe({ group: `tiers-${id}`, channels: [channel], prefetch: 4 }, async (delivery) => {
      const { n } = bodyOf(delivery.message.body);
      if (!holds.has(n)) {
        const notBefore = started + delays[n]!;
        holds.set(n, notBefore);
        return delivery.defer(notBefore, deferHeaders(delivery, notBefore, false));
      }
      handled.fn(seen(delivery));
      return delivery.ack();
    });
    await t.publish([message(channel, 1, { key: 'same' }), message(channel, 2, { key: 'same' })]);
    const calls = await handled.waitForCount(2, { timeoutMs: 30_000 });
    expect(calls.map((c) => c.n)).toEqual([2, 1]);
    for (const c of calls) {
      expect(c.at).toBeGreaterThanOrEqual(holds.get(c.n)!);
      expect(c.attempt).toBe(1);
    }
    // The short one is not kept behind the long one (the old single retry topic held it 9 s).
    expect(calls[0]!.at - holds.get(2)!).toBeLessThan(2000);
  }, 60_000);

  it('a backlog of held copies beyond the fetch buffer does not stop the channel being read', async () => {
    const id = runId();
    const channel = `backlog-${id}`;
    const t = await transport();
    const deferred = createSpy<number>();
    const fresh = createSpy<number>();
    const count = 600; // the buffer pauses fetching at 256 records not held (prefetch 8)
    await t.subscribe({ group: `backlog-${id}`, channels: [channel], prefetch: 8 }, async (delivery) => {
      const { n } = bodyOf(delivery.message.body);
      if (n < count) {
        deferred.fn(n);
        const notBefore = Date.now() + 60_000;
        return delivery.defer(notBefore, deferHeaders(delivery, notBefore, false));
      }
      fresh.fn(Date.now());
      return delivery.ack();
    });
    await t.publish(Array.from({ length: count }, (_, n) => message(channel, n, { key: `k${n % 50}` })));
    await deferred.waitForCount(count, { timeoutMs: 30_000 });
    const published = Date.now();
    await t.publish([message(channel, count)]);
    const [at] = await fresh.waitForCount(1, { timeoutMs: 10_000, description: 'the event published after the held backlog' });
    expect(at! - published).toBeLessThan(3000);
  }, 60_000);

  it('a hold beyond maxDelayMs comes back at maxDelayMs, its not-before intact for core to defer again', async () => {
    const id = runId();
    const channel = `max-${id}`;
    const t = await transport({ maxDelayMs: 1000 });
    const spy = createSpy<Seen & { deferredAt: number }>();
    let notBefore = 0;
    let deferredAt = 0;
    await t.subscribe({ group: `max-${id}`, channels: [channel], prefetch: 4 }, async (delivery) => {
      if (notBefore === 0) {
        deferredAt = Date.now();
        notBefore = deferredAt + 60_000;
        return delivery.defer(notBefore, deferHeaders(delivery, notBefore, false));
      }
      spy.fn({ ...seen(delivery), deferredAt });
      return delivery.ack();
    });
    await t.publish([message(channel, 1)]);
    const [copy] = await spy.waitForCount(1, { timeoutMs: 15_000 });
    expect(copy!.at - deferredAt).toBeGreaterThanOrEqual(1000);
    expect(copy!.headers[EventbusHeaders.notBefore]).toBe(String(notBefore));
  }, 60_000);

  it('lateness of deferred events over the tiers (reported)', async () => {
    const id = runId();
    const channel = `lateness-${id}`;
    const t = await transport();
    const late = createSpy<number>();
    const holds = new Map<number, number>();
    const count = 60;
    await t.subscribe({ group: `lateness-${id}`, channels: [channel], prefetch: 32 }, async (delivery) => {
      const { n } = bodyOf(delivery.message.body);
      const due = holds.get(n);
      if (due === undefined) {
        // 0.2 s to 7 s, spread so every tier up to 4 s and the retry topic's exact hold are used.
        const notBefore = Date.now() + 200 + ((n * 6800) / count) * ((n * 7) % 5 === 0 ? 0.3 : 1);
        holds.set(n, notBefore);
        return delivery.defer(notBefore, deferHeaders(delivery, notBefore, false));
      }
      late.fn(Date.now() - due);
      return delivery.ack();
    });
    await t.publish(Array.from({ length: count }, (_, n) => message(channel, n, { key: `k${n % 7}` })));
    const lateness = (await late.waitForCount(count, { timeoutMs: 40_000 })).sort((a, b) => a - b);
    expect(lateness[0]).toBeGreaterThanOrEqual(0);
    const p50 = percentile(lateness, 50);
    const p99 = percentile(lateness, 99);
    console.log(`kafka defer lateness over ${count} events (0.2-7 s): p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${lateness.at(-1)!.toFixed(0)} ms`);
    expect(p99).toBeLessThan(1000);
  }, 90_000);
});
