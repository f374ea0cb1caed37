import { ConfigError, type Delivery, deferHeaders, EventbusHeaders } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { NatsTransport } from '../src/index.js';
import { optionsFromUrl } from '../src/options.js';
import { cloudEventMessage, Fixture, json, URL_VARIABLE } from './helpers.js';

describe('NatsTransport maxDelayMs', () => {
  it('is a whole number of ms ≥ 1000, named when wrong, and is the maxDelayMs capability', async () => {
    expect(() => new NatsTransport({ servers: 'nats://x', maxDelayMs: 999 })).toThrow(ConfigError);
    expect(() => new NatsTransport({ servers: 'nats://x', maxDelayMs: 1500.5 })).toThrow(/`maxDelayMs`/);
    expect(() => new NatsTransport(optionsFromUrl('nats://127.0.0.1:4222?maxDelayMs=soon'))).toThrow(/`maxDelayMs`/);
    const scaled = new NatsTransport({ servers: 'nats://x', maxDelayMs: 2000 });
    expect(scaled.capabilities.maxDelayMs).toBe(2000);
    expect(scaled.capabilities.holdsScheduledPublish).toBe(false);
    const native = new NatsTransport({ servers: 'nats://x' });
    expect(native.capabilities.maxDelayMs).toBe(2_147_483_647);
    await Promise.all([scaled.close(), native.close()]);
  });

  it('keeps the deferred subjects apart from the dead letters', () => {
    expect(() => new NatsTransport({ servers: 'nats://x', prefix: 'p', deadLetterPrefix: 'p-deferred' })).toThrow(/`deadLetterPrefix`/);
  });
});

interface Seen {
  at: number;
  attempt: number;
  headers: Record<string, string>;
  body: unknown;
}

function seen(d: Delivery): Seen {
  return { at: Date.now(), attempt: d.attempt, headers: d.message.headers, body: json(d.message.body) };
}

/** Defer a delivery as core does: the same attempt, held until `notBefore`. */
function deferUntil(d: Delivery, notBefore: number): Promise<void> {
  return d.defer(notBefore, deferHeaders(d, notBefore, false));
}

/** ms by which each delivery came after its hold time (negative: early). */
function lateness(all: readonly Seen[]): number[] {
  return all.map((s) => s.at - Number(s.headers[EventbusHeaders.notBefore])).sort((a, b) => a - b);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describeBroker('NatsTransport defer', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  afterAll(() => fixture.cleanup());

  it('puts a copy back to this group only, not before notBefore, with the same attempt; the other group got the original once', async () => {
    const transport = fixture.transport();
    const channel = fixture.name('defer-one-group');
    const deferring = createSpy<Seen>();
    const other = createSpy<Seen>();
    let notBefore = 0;
    await transport.subscribe({ group: 'deferring', channels: [channel], prefetch: 4 }, async (d) => {
      deferring.fn(seen(d));
      if (d.message.headers[EventbusHeaders.notBefore] === undefined) {
        notBefore = Date.now() + 1500;
        return deferUntil(d, notBefore);
      }
      return d.ack();
    });
    await transport.subscribe({ group: 'other', channels: [channel], prefetch: 4 }, async (d) => {
      other.fn(seen(d));
      return d.ack();
    });
    await transport.publish([{ ...cloudEventMessage(channel, { n: 1 }), key: 'k-1' }]);
    const [original, copy] = await deferring.waitForCount(2, { timeoutMs: 10_000 });
    expect(copy!.at).toBeGreaterThanOrEqual(notBefore);
    expect(copy!.attempt).toBe(original!.attempt);
    expect(copy!.attempt).toBe(1);
    expect(copy!.body).toEqual({ n: 1 });
    expect(copy!.headers[EventbusHeaders.notBefore]).toBe(String(notBefore));
    expect(copy!.headers['ce-id']).toBe(original!.headers['ce-id']);
    // The copy came back through this group's deferred consumer only: the other group still has one.
    await other.waitForCount(1, { timeoutMs: 5000 });
    await other.expectNone(() => true, 1000);
    await deferring.expectNone(() => true, 500);
    expect(other.calls).toHaveLength(1);
  });

  it('counts attempts across a deferral: a failure before and after it each add one, the deferral none', async () => {
    const transport = fixture.transport();
    const channel = fixture.name('defer-attempts');
    const calls = createSpy<Seen>();
    await transport.subscribe({ group: 'attempts', channels: [channel], prefetch: 4 }, async (d) => {
      const s = seen(d);
      calls.fn(s);
      // 1: fail; 2: defer; 2 (the copy): fail; 3: ack.
      if (calls.calls.length === 2) return deferUntil(d, Date.now() + 1000);
      if (calls.calls.length < 4) return d.nack({ delayMs: 200 });
      return d.ack();
    });
    await transport.publish([cloudEventMessage(channel, { n: 2 })]);
    await calls.waitForCount(4, { timeoutMs: 15_000 });
    expect(calls.calls.map((c) => c.attempt)).toEqual([1, 2, 2, 3]);
  });

  it('holds at most maxDelayMs in one step: a longer wait comes back early, for core to defer again', async () => {
    const transport = fixture.transport({ maxDelayMs: 1000 });
    const channel = fixture.name('defer-max');
    const calls = createSpy<Seen>();
    let deferredAt = 0;
    let notBefore = 0;
    await transport.subscribe({ group: 'max', channels: [channel], prefetch: 4 }, async (d) => {
      calls.fn(seen(d));
      if (calls.calls.length > 1) return d.ack();
      deferredAt = Date.now();
      notBefore = deferredAt + 4000;
      return deferUntil(d, notBefore);
    });
    await transport.publish([cloudEventMessage(channel, { n: 3 })]);
    const [, hop] = await calls.waitForCount(2, { timeoutMs: 10_000 });
    expect(hop!.at - deferredAt).toBeGreaterThanOrEqual(1000);
    expect(hop!.at).toBeLessThan(notBefore);
    expect(hop!.attempt).toBe(1);
  });

  it('keeps a deferred copy across a consumer restart', async () => {
    const channel = fixture.name('defer-restart');
    const first = fixture.transport();
    let notBefore = 0;
    const deferred = createSpy<void>();
    const before = await first.subscribe({ group: 'restart', channels: [channel], prefetch: 4 }, async (d) => {
      notBefore = Date.now() + 1500;
      await deferUntil(d, notBefore);
      deferred.fn();
    });
    await first.publish([cloudEventMessage(channel, { n: 4 })]);
    await deferred.waitForCount(1, { timeoutMs: 5000 });
    await before.close();
    await first.close();
    const second = fixture.transport();
    const after = createSpy<Seen>();
    await second.subscribe({ group: 'restart', channels: [channel], prefetch: 4 }, async (d) => {
      after.fn(seen(d));
      return d.ack();
    });
    const [copy] = await after.waitForCount(1, { timeoutMs: 10_000 });
    expect(copy!.at).toBeGreaterThanOrEqual(notBefore);
    expect(copy!.attempt).toBe(1);
    expect(copy!.body).toEqual({ n: 4 });
    console.info(`restart: copy came ${copy!.at - notBefore} ms after its time`);
  });

  it('a copy whose consumer died on it comes back one attempt higher, as any delivery does', async () => {
    const channel = fixture.name('defer-died');
    const dying = fixture.transport({ drainTimeoutMs: 0 });
    const onCopy = createSpy<Seen>();
    const sub = await dying.subscribe({ group: 'died', channels: [channel], prefetch: 4 }, async (d) => {
      if (d.message.headers[EventbusHeaders.notBefore] === undefined) return deferUntil(d, Date.now() + 500);
      onCopy.fn(seen(d));
      // Never settled: the process "dies" with the copy in its hands.
      await new Promise(() => undefined);
    });
    await dying.publish([cloudEventMessage(channel, { n: 5 })]);
    const [first] = await onCopy.waitForCount(1, { timeoutMs: 10_000 });
    expect(first!.attempt).toBe(1);
    await sub.close();
    await dying.close();
    const next = createSpy<Seen>();
    await fixture.transport().subscribe({ group: 'died', channels: [channel], prefetch: 4 }, async (d) => {
      next.fn(seen(d));
      return d.ack();
    });
    const [again] = await next.waitForCount(1, { timeoutMs: 15_000 });
    expect(again!.attempt).toBe(2);
    expect(again!.body).toEqual({ n: 5 });
  });

  it('at prefetch 1 a due copy does not wait for the quiet channel\'s idle pull request to expire', async () => {
    // The pull requests last 5 s: a copy that waited for the channel's credit came up to 4 s late.
    const transport = fixture.transport({ pullExpiresMs: 5000 });
    const channel = fixture.name('defer-prefetch-1');
    const copies = createSpy<Seen>();
    await transport.subscribe({ group: 'p1', channels: [channel], prefetch: 1 }, async (d) => {
      if (d.message.headers[EventbusHeaders.notBefore] === undefined) return deferUntil(d, Date.now() + 1000 + 700 * (json(d.message.body) as { n: number }).n);
      copies.fn(seen(d));
      return d.ack();
    });
    await transport.publish(Array.from({ length: 5 }, (_, n) => cloudEventMessage(channel, { n })));
    await copies.waitForCount(5, { timeoutMs: 15_000 });
    const late = lateness(copies.calls);
    expect(late[0]).toBeGreaterThanOrEqual(0);
    expect(late.at(-1)).toBeLessThan(500);
    console.info(`nats defer at prefetch 1: lateness p50 ${percentile(late, 50)} ms, max ${late.at(-1)} ms`);
  });

  it('long holds do not delay short ones (no head-of-line blocking); lateness reported', async () => {
    const transport = fixture.transport({ maxAckPending: 20 });
    const channel = fixture.name('defer-hol');
    // Scaled up for the numbers in decision 0009: EVENTBUS_NATS_DEFER_COPIES=1000.
    const LONG = Number(process.env.EVENTBUS_NATS_DEFER_COPIES ?? 60);
    const SHORT = LONG;
    const copies = createSpy<Seen>();
    let lastDeferral = 0;
    await transport.subscribe({ group: 'hol', channels: [channel], prefetch: 8 }, async (d) => {
      const body = json(d.message.body) as { n: number };
      if (d.message.headers[EventbusHeaders.notBefore] !== undefined) {
        copies.fn(seen(d));
        return d.ack();
      }
      // The long holds first, more of them than the group's maxAckPending.
      await deferUntil(d, Date.now() + (body.n < LONG ? 120_000 : 1500));
      lastDeferral = Date.now();
    });
    const started = Date.now();
    await transport.publish(Array.from({ length: LONG }, (_, n) => cloudEventMessage(channel, { n })));
    await transport.publish(Array.from({ length: SHORT }, (_, i) => cloudEventMessage(channel, { n: LONG + i })));
    await copies.waitForCount(SHORT, { timeoutMs: 20_000 + SHORT * 20 });
    const late = lateness(copies.calls);
    expect(late[0]).toBeGreaterThanOrEqual(0);
    expect(copies.calls.every((c) => (c.body as { n: number }).n >= LONG)).toBe(true);
    console.info(`nats defer (${LONG} held 120 s, then ${SHORT} held 1.5 s; all deferred in ${lastDeferral - started} ms) lateness of the short: p50 ${percentile(late, 50)} ms, p99 ${percentile(late, 99)} ms, max ${late.at(-1)} ms`);
  });
});
