import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ConfigError, CLOCK_TOLERANCE_MS, defineEvent, deferHeaders, type Delivery, EventbusHeaders, type OutgoingMessage } from '@org/eventbus';
import { createSpy, formatDelayReport, measureDelayedDelivery } from '@org/eventbus/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SqsTransport } from '../src/index.js';
import { sqsFixture } from './fixture.js';

const fixture = sqsFixture('d');
const { unique, transport, bus } = fixture;

const encoder = new TextEncoder();

function message(channel: string, id: string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { channel, id, headers: { 'content-type': 'application/cloudevents+json' }, body: encoder.encode('{}'), ...extra };
}

interface Seen {
  group: string;
  attempt: number;
  at: number;
  headers: Record<string, string>;
}

/** Defer as core's receive check and `ctx.retryAfter` do: the copy carries core's defer headers. */
function deferUntil(d: Delivery, notBefore: number): Promise<void> {
  return d.defer(notBefore, deferHeaders(d, notBefore, true));
}

describe('SQS defer', () => {
  it('puts a copy back for the deferring group only, not before its time, with the same attempt', async () => {
    const t = transport();
    const channel = unique('c');
    const [deferring, other] = [unique('g-defer'), unique('g-other')];
    const seen = createSpy<Seen>();
    let notBefore = 0;
    const record = (group: string, d: Delivery) => seen.fn({ group, attempt: d.attempt, at: Date.now(), headers: d.message.headers });
    const subA = await t.subscribe({ group: deferring, channels: [channel], prefetch: 5 }, async (d) => {
      record(deferring, d);
      // A redelivery first (attempt 2, SQS's receive count 2), so "the same attempt" is not just 1.
      if (d.attempt === 1) return d.nack({ delayMs: 0 });
      if (d.message.headers[EventbusHeaders.notBefore] === undefined) {
        notBefore = Date.now() + 2_300;
        return deferUntil(d, notBefore);
      }
      return d.ack();
    });
    const subB = await t.subscribe({ group: other, channels: [channel], prefetch: 5 }, async (d) => {
      record(other, d);
      await d.ack();
    });
    await t.publish([message(channel, 'm1')]);

    const calls = await seen.waitFor((all) => all.filter((c) => c.group === deferring).length >= 3, { timeoutMs: 20_000, description: 'the deferred copy' });
    const mine = calls.filter((c) => c.group === deferring);
    const [, deferredAt, back] = mine;
    expect(deferredAt!.attempt).toBe(2);
    expect(back!.attempt, 'a deferral is not an attempt: SQS counts the copy afresh').toBe(2);
    expect(back!.at, 'not before its time').toBeGreaterThanOrEqual(notBefore - CLOCK_TOLERANCE_MS);
    expect(back!.headers[EventbusHeaders.deferrals]).toBe('1');
    // Nothing more for either group: the other group got the original once and never the copy.
    await seen.expectNone((c) => c.group === other && c.headers[EventbusHeaders.notBefore] !== undefined, 1_500);
    expect(seen.calls.filter((c) => c.group === other)).toHaveLength(1);
    expect(seen.calls.filter((c) => c.group === deferring)).toHaveLength(3);
    await Promise.all([subA.close(), subB.close()]);
  });

  it('holds a long deferral on a FIFO queue in process, the same attempt (no visibility change counted as a receive)', async () => {
    const t = transport({ fifo: true });
    const channel = unique('c');
    const seen = createSpy<Seen>();
    let notBefore = 0;
    const sub = await t.subscribe({ group: unique('g'), channels: [channel], prefetch: 5 }, async (d) => {
      seen.fn({ group: '', attempt: d.attempt, at: Date.now(), headers: d.message.headers });
      if (seen.count > 1) return d.ack();
      notBefore = Date.now() + 2_500;
      return deferUntil(d, notBefore);
    });
    await t.publish([message(channel, 'f1', { key: 'k' })]);
    const [, back] = await seen.waitForCount(2, { timeoutMs: 20_000 });
    expect(back!.attempt).toBe(1);
    expect(back!.at).toBeGreaterThanOrEqual(notBefore - CLOCK_TOLERANCE_MS);
    await sub.close();
  });

  it('a long hold never delays a short one behind it (each copy has its own timer), with prefetch 1', async () => {
    const event = defineEvent({ type: `sqs.test.${unique('hol')}`, description: 'a test event', schema: z.object({ n: z.number() }) });
    const group = unique('g');
    const seen = createSpy<{ n: number; at: number }>();
    const consumer = bus();
    consumer.handle(event, { group, concurrency: 1 }, (e) => seen.fn({ n: e.data.n, at: Date.now() }));
    await consumer.start();
    const publisher = bus();
    await publisher.publish(event, { n: 1 }, { delay: 60_000 });
    const due = Date.now() + 1_500;
    await publisher.publish(event, { n: 2 }, { deliverAt: due });
    const [got] = await seen.waitForCount(1, { timeoutMs: 10_000 });
    expect(got!.n).toBe(2);
    expect(got!.at - due, 'not held up behind the 60 s one').toBeLessThan(1_000);
  });
});

describe('SQS scheduled publish', () => {
  it('holds a scheduled message in the queue itself when publishing straight to standard queues', async () => {
    const channel = unique('c');
    const group = unique('g');
    const direct = transport({ publishTo: 'queue', directGroups: { [channel]: [group] } });
    expect(direct.capabilities.holdsScheduledPublish).toBe(true);
    expect(transport().capabilities.holdsScheduledPublish, 'SNS takes no per-message delay').toBe(false);
    expect(transport({ fifo: true, publishTo: 'queue', directGroups: { [channel]: [group] } }).capabilities.holdsScheduledPublish).toBe(false);
    await direct.provision([{ group, channels: [channel] }]);

    const notBefore = Date.now() + 3_000;
    await direct.publish([message(channel, 's1', { notBefore, headers: { [EventbusHeaders.deliverAt]: String(notBefore) } })]);
    // The queue does not hand it to anyone before its time (whole seconds rounded down: up to 1 s early).
    const plain = new SQSClient(fixture.plainConfig());
    const { QueueUrl: url } = await plain.send(new GetQueueUrlCommand({ QueueName: direct.resourceNames({ group }).queue }));
    const early = await plain.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1, VisibilityTimeout: 0 }));
    plain.destroy();
    expect(early.Messages ?? []).toHaveLength(0);

    const seen = createSpy<{ at: number; attempt: number }>();
    const sub = await direct.subscribe({ group, channels: [channel], prefetch: 5 }, async (d) => {
      seen.fn({ at: Date.now(), attempt: d.attempt });
      await d.ack();
    });
    const [got] = await seen.waitForCount(1, { timeoutMs: 10_000 });
    expect(got!.at).toBeGreaterThanOrEqual(notBefore - CLOCK_TOLERANCE_MS);
    expect(got!.attempt).toBe(1);
    await sub.close();
  });

  it('reports lateness of scheduled events published straight to queues (held by SQS)', async () => {
    const event = defineEvent({ type: `sqs.test.${unique('late')}`, description: 'a test event', schema: z.object({ n: z.number(), text: z.string().optional(), pad: z.string().optional() }) });
    const group = unique('g');
    const consumer = bus();
    const publisher = bus({ publishTo: 'queue', directGroups: { [event.channel]: [group] } });
    const report = await measureDelayedDelivery(publisher, consumer, event, group, { count: 20, minDelayMs: 1_000, maxDelayMs: 3_000 });
    console.log(formatDelayReport({ ...report, transport: 'sqs publishTo: queue' }));
    expect(report.early).toBe(0);
    expect(report.attempts).toEqual([1]);
  });
});

describe('SQS maxDelayMs', () => {
  it('is the capability, defaults to no cap of its own, and refuses a bad value naming the option', () => {
    expect(new SqsTransport({ maxDelayMs: 1_000 }).capabilities.maxDelayMs).toBe(1_000);
    expect(new SqsTransport().capabilities.maxDelayMs).toBe(2_147_483_647);
    for (const bad of [999, 1500.5, -1, 2 ** 31]) {
      expect(() => new SqsTransport({ maxDelayMs: bad })).toThrow(ConfigError);
      expect(() => new SqsTransport({ maxDelayMs: bad })).toThrow(/maxDelayMs/);
    }
  });
});
