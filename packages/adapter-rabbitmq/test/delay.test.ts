import { type Delivery, deferHeaders, EventbusHeaders } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { fromUrl, RabbitMqTransport } from '../src/index.js';
import { deferHold, MAX_DELAY_MS } from '../src/topology.js';
import { cloudEventMessage, Fixture, URL_VARIABLE } from './helpers.js';

describe('RabbitMQ delay options and holds', () => {
  it('maxDelayMs: whole ms from 1000 to the 32-bit TTL, default the broker maximum; a bad value names the option', () => {
    expect(new RabbitMqTransport({ url: 'amqp://localhost' }).capabilities.maxDelayMs).toBe(MAX_DELAY_MS);
    expect(new RabbitMqTransport({ url: 'amqp://localhost', maxDelayMs: 1000 }).capabilities.maxDelayMs).toBe(1000);
    expect(fromUrl('amqp://localhost/?maxDelayMs=5000').capabilities.maxDelayMs).toBe(5000);
    for (const maxDelayMs of [999, 1500.5, 2 ** 31, -1, Number.NaN]) {
      expect(() => new RabbitMqTransport({ url: 'amqp://localhost', maxDelayMs })).toThrow(/`maxDelayMs`/);
    }
    expect(new RabbitMqTransport({ url: 'amqp://localhost' }).capabilities.holdsScheduledPublish).toBe(false);
  });

  it('a deferral hop is never longer than the wait and takes its bucket exactly, so nothing longer is ahead of it', () => {
    for (const wait of [1, 15, 16, 17, 300, 1000, 1023, 1024, 86_400_000, MAX_DELAY_MS]) {
      const { bucket, expirationMs } = deferHold(wait, MAX_DELAY_MS);
      expect(expirationMs).toBeLessThanOrEqual(wait);
      if (wait >= 16) {
        expect(expirationMs).toBe(bucket);
        // The largest power of two within the wait: the rest is under one bucket, the next hop.
        expect(wait - expirationMs).toBeLessThan(bucket);
      } else expect({ bucket, expirationMs }).toEqual({ bucket: 16, expirationMs: wait });
    }
    expect(deferHold(10_000, 1000)).toEqual({ bucket: 512, expirationMs: 512 });
    expect(deferHold(-5, 1000).expirationMs).toBe(1);
  });
});

interface Seen {
  group: string;
  attempt: number;
  at: number;
  notBefore: number;
  hops: number;
}

describeBroker('RabbitMQ defer', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  afterAll(() => fixture.cleanup());

  /**
   * Stands in for core's receive check: a delivery whose `eventbus-not-before` is still ahead is
   * deferred again (chained hops past maxDelayMs); others go to `handle`.
   */
  const holding =
    (hops: Map<string, number>, handle: (d: Delivery) => Promise<void>) =>
    async (d: Delivery): Promise<void> => {
      const notBefore = Number(d.message.headers[EventbusHeaders.notBefore]);
      if (notBefore > Date.now()) {
        const id = d.message.headers.cloudEvents_id!;
        hops.set(id, (hops.get(id) ?? 0) + 1);
        await d.defer(notBefore, deferHeaders(d, notBefore, false));
        return;
      }
      await handle(d);
    };

  for (const queueType of ['quorum', 'classic'] as const) {
    it(`${queueType}: a deferred copy comes back to its group only, not early, with the same attempt, over chained hops`, async () => {
      const exchange = `${fixture.exchange}-${queueType}`;
      const transport = fixture.transport({ queueType, exchange, maxDelayMs: 1000 });
      const [deferring, other] = [fixture.group('deferring'), fixture.group('other')];
      const seen = createSpy<Seen>();
      const hops = new Map<string, number>();
      const waitMs = 2_500;
      await transport.subscribe(
        { group: deferring, channels: ['sched'], prefetch: 5 },
        holding(hops, async (d) => {
          const notBefore = Number(d.message.headers[EventbusHeaders.notBefore] ?? 0);
          const id = d.message.headers.cloudEvents_id!;
          seen.fn({ group: deferring, attempt: d.attempt, at: Date.now(), notBefore, hops: hops.get(id) ?? 0 });
          // First a failed attempt (attempt 2 next), then a deferral: it must still say 2 after it.
          if (d.attempt === 1) return d.nack();
          if (notBefore === 0) {
            const until = Date.now() + waitMs;
            return d.defer(until, deferHeaders(d, until, true));
          }
          await d.ack();
        }),
      );
      await transport.subscribe({ group: other, channels: ['sched'], prefetch: 5 }, async (d) => {
        seen.fn({ group: other, attempt: d.attempt, at: Date.now(), notBefore: 0, hops: 0 });
        await d.ack();
      });
      await transport.publish([cloudEventMessage('sched', { n: 1 })]);
      const calls = await seen.waitFor((c) => c.filter((s) => s.group === deferring).length >= 3, { timeoutMs: 15_000 });
      const mine = calls.filter((s) => s.group === deferring);
      expect(mine.map((s) => s.attempt)).toEqual([1, 2, 2]);
      const last = mine[2]!;
      expect(last.at).toBeGreaterThanOrEqual(last.notBefore);
      expect(last.notBefore - mine[1]!.at).toBeGreaterThanOrEqual(waitMs - 5);
      // maxDelayMs 1000 holds at most 512 ms a hop: 2.5 s takes several.
      expect(last.hops).toBeGreaterThanOrEqual(3);
      await seen.expectNone((s) => s.group === other, 500);
      expect(seen.calls.filter((s) => s.group === other).map((s) => s.attempt)).toEqual([1]);
      await transport.close();
    });
  }

  it('a dead-letter reader defers back to the dead-letter queue, not to the live group', async () => {
    const transport = fixture.transport();
    const group = fixture.group('dlq-defer');
    const live = createSpy<number>();
    await transport.subscribe({ group, channels: ['dlq-defer'], prefetch: 1 }, async (d) => {
      live.fn(d.attempt);
      await d.deadLetter('to be read later');
    });
    const dead = createSpy<{ at: number; notBefore: number; deferrals: string | undefined }>();
    let until = 0;
    const hops = new Map<string, number>();
    await transport.subscribe(
      { group, channels: [], prefetch: 1, deadLetters: true },
      holding(hops, async (d) => {
        const notBefore = Number(d.message.headers[EventbusHeaders.notBefore] ?? 0);
        dead.fn({ at: Date.now(), notBefore, deferrals: d.message.headers[EventbusHeaders.deferrals] });
        if (notBefore === 0) {
          until = Date.now() + 400;
          return d.defer(until, deferHeaders(d, until, true));
        }
        await d.ack();
      }),
    );
    await transport.publish([cloudEventMessage('dlq-defer', 1)]);
    const calls = await dead.waitForCount(2);
    expect(calls[1]!.at).toBeGreaterThanOrEqual(until);
    expect(calls[1]!.deferrals).toBe('1');
    expect(calls[1]!.notBefore).toBe(until);
    await live.expectNone(() => true, 300);
    expect(live.calls).toEqual([1]);
    await transport.close();
  });

  it('short deferrals are not held behind long ones, and none is early (lateness logged)', async () => {
    const transport = fixture.transport();
    const group = fixture.group('mixed');
    const hops = new Map<string, number>();
    const lateness = createSpy<{ wait: number; late: number }>();
    const waits = new Map<string, number>();
    await transport.subscribe(
      { group, channels: ['mixed'], prefetch: 50 },
      holding(hops, async (d) => {
        const id = d.message.headers.cloudEvents_id!;
        const notBefore = Number(d.message.headers[EventbusHeaders.notBefore] ?? 0);
        if (notBefore === 0) {
          const until = Date.now() + waits.get(id)!;
          return d.defer(until, deferHeaders(d, until, false));
        }
        lateness.fn({ wait: waits.get(id)!, late: Date.now() - notBefore });
        await d.ack();
      }),
    );
    // Long waits published first, so a FIFO queue would hold the short ones behind them. The first
    // round also declares the retry queues it meets (a quorum queue takes tens of ms to create);
    // the second finds them there, as a running service does.
    const plan = [4_000, 3_000, 2_000, 1_500, 1_000, 700, 450, 300, 200, 120, 60, 30, 10];
    for (const round of ['first (declares the retry queues)', 'second (retry queues exist)']) {
      lateness.clear();
      const messages = plan.flatMap((wait) =>
        Array.from({ length: 4 }, (_, i) => {
          const message = cloudEventMessage('mixed', { wait, i });
          waits.set(message.id, wait);
          return message;
        }),
      );
      await transport.publish(messages);
      const results = await lateness.waitForCount(messages.length, { timeoutMs: 20_000 });
      const late = results.map((r) => r.late).sort((a, b) => a - b);
      const pick = (q: number) => late[Math.min(late.length - 1, Math.floor(q * late.length))]!;
      console.info(
        `rabbitmq defer lateness, ${round}, ${late.length} deferrals of 10 ms - 4 s: p50 ${pick(0.5)} ms, p99 ${pick(0.99)} ms, max ${late.at(-1)} ms`,
      );
      expect(late[0]!).toBeGreaterThanOrEqual(0);
      // Held behind a 4 s wait, a short one would be seconds late; a generous bound for a loaded machine.
      expect(late.at(-1)!).toBeLessThan(750);
    }
    await transport.close();
  });
});
