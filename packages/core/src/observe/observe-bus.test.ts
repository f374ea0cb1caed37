import { randomUUID } from 'node:crypto';
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, type EventBus, type EventBusOptions } from '../bus.js';
import { defineEvent } from '../contract.js';
import { UnroutableError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { MemoryTransport } from '../memory/transport.js';
import { createSpy } from '../testing/spy.js';
import type { Instrumentation } from '../tracing/hooks.js';
import { tracing } from '../tracing/tracing.js';
import type { Delivery } from '../transport.js';
import { type DeliveryEndObservation, type DeliveryStartObservation, observeBus, type PublishObservation } from './observe-bus.js';
import { SettleTap } from './settle-tap.js';

const Job = defineEvent({ type: 'observe.job', description: 'A job.', schema: z.object({ mode: z.enum(['ok', 'fail-once', 'fail', 'nack', 'dead']) }) });
const Note = defineEvent({ type: 'observe.note', description: 'A note.', channel: 'observe.job', schema: z.object({}) });

function listen() {
  const published = createSpy<PublishObservation>();
  const started = createSpy<DeliveryStartObservation>();
  const ended = createSpy<DeliveryEndObservation>();
  return { published, started, ended, listener: { published: published.fn, deliveryStarted: started.fn, deliveryEnded: ended.fn } };
}

const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});

async function busWith(instrumentation: EventBusOptions['instrumentation'], group = 'workers') {
  const bus = createEventBus({
    transport: new MemoryTransport({ broker: randomUUID() }),
    source: '/test/observe',
    logger: silentLogger,
    instrumentation,
    defaults: { backoff: { initialMs: 1, maxMs: 2 } },
  });
  buses.push(bus);
  bus.handle(Job, { group, maxAttempts: 2 }, async (event, ctx) => {
    const { mode } = event.data;
    if (mode === 'fail' || (mode === 'fail-once' && ctx.attempt === 1)) throw new Error(`boom on ${ctx.attempt}`);
    if (mode === 'nack' && ctx.attempt === 1) await ctx.nack({ delayMs: 7 });
    if (mode === 'dead') await ctx.deadLetter('handler gave up');
  });
  await bus.start();
  return bus;
}

describe('observeBus', () => {
  it('tells a publish with its count and duration, and a delivery from start to ack', async () => {
    const seen = listen();
    const bus = await busWith(observeBus(seen.listener));
    const event = await bus.publish(Job, { mode: 'ok' });
    const [end] = await seen.ended.waitForCount(1);
    expect(seen.published.calls).toEqual([
      { transport: 'memory', type: 'observe.job', channel: 'observe.job', count: 1, durationMs: expect.any(Number), traceparent: event.traceparent },
    ]);
    expect(seen.started.calls).toEqual([{ transport: 'memory', group: 'workers', channel: 'observe.job', type: 'observe.job', eventId: event.id, attempt: 1 }]);
    expect(end).toEqual({ ...seen.started.calls[0], outcome: 'ack', durationMs: expect.any(Number), traceparent: event.traceparent });
    expect(end?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('tells a retried event as a nack with its delay, then an ack on the next attempt', async () => {
    const seen = listen();
    const bus = await busWith(observeBus(seen.listener));
    await bus.publish(Job, { mode: 'fail-once' });
    const ends = await seen.ended.waitForCount(2);
    expect(ends.map((e) => [e.attempt, e.outcome])).toEqual([
      [1, 'nack'],
      [2, 'ack'],
    ]);
    expect(ends[0]?.delayMs).toBeGreaterThanOrEqual(1);
  });

  it('tells a dead-lettered event with the reason, and a handler’s own nack and dead-letter', async () => {
    const seen = listen();
    const bus = await busWith(observeBus(seen.listener));
    await bus.publish(Job, { mode: 'fail' });
    const ends = await seen.ended.waitForCount(2);
    expect(ends.map((e) => [e.attempt, e.outcome])).toEqual([
      [1, 'nack'],
      [2, 'dead-letter'],
    ]);
    expect(ends[1]?.reason).toMatch(/boom on 2/);

    seen.ended.clear();
    await bus.publish(Job, { mode: 'dead' });
    const [own] = await seen.ended.waitForCount(1);
    expect(own).toMatchObject({ outcome: 'dead-letter', reason: 'handler gave up', attempt: 1 });

    seen.ended.clear();
    await bus.publish(Job, { mode: 'nack' });
    const [nacked] = await seen.ended.waitForCount(1);
    expect(nacked).toMatchObject({ outcome: 'nack', delayMs: 7, attempt: 1 });
    // The nacked one comes back as attempt 2 and is acked; every start has ended: nothing left in flight.
    const [, again] = await seen.ended.waitForCount(2);
    expect(again).toMatchObject({ outcome: 'ack', attempt: 2 });
    expect(seen.started.count).toBe(5);
  });

  it('tells poison as a dead-letter without a type, and a refused publish with its error', async () => {
    const seen = listen();
    const bus = await busWith(observeBus(seen.listener));
    await bus.transport.publish([{ channel: Job.channel, id: 'p1', headers: {}, body: new TextEncoder().encode('not json') }]);
    const [poison] = await seen.ended.waitForCount(1);
    expect(poison).toMatchObject({ group: 'workers', channel: 'observe.job', attempt: 1, outcome: 'dead-letter' });
    expect(poison?.type).toBeUndefined();

    const Lonely = defineEvent({ type: 'observe.lonely', description: 'Nobody listens.', schema: z.object({}) });
    await expect(bus.publish(Lonely, {})).rejects.toBeInstanceOf(UnroutableError);
    expect(seen.published.calls.at(-1)).toMatchObject({ type: 'observe.lonely', count: 1, error: expect.any(UnroutableError) });
  });

  it('groups a batch by type and channel', async () => {
    const seen = listen();
    const bus = await busWith(observeBus(seen.listener));
    await bus.publishBatch([
      { contract: Job, data: { mode: 'ok' } },
      { contract: Note, data: {} },
      { contract: Job, data: { mode: 'ok' } },
    ]);
    expect(seen.published.calls.map((o) => [o.type, o.count])).toEqual([
      ['observe.job', 2],
      ['observe.note', 1],
    ]);
    expect(new Set(seen.published.calls.map((o) => o.durationMs)).size).toBe(1); // one transport call
  });

  it('tells a defer: a handler’s retryAfter, and a scheduled event that arrived early (the receive check)', async () => {
    const seen = listen();
    const Later = defineEvent({ type: 'observe.later', description: 'Later.', schema: z.object({ early: z.boolean() }) });
    // maxDelayMs 1 s: a publish scheduled further ahead arrives after 1 s, early, and the receive check defers the rest.
    const transport = new MemoryTransport({ broker: randomUUID(), maxDelayMs: 1000 });
    const bus = createEventBus({ transport, source: '/test/observe', logger: silentLogger, instrumentation: observeBus(seen.listener) });
    buses.push(bus);
    const runs = createSpy<boolean>();
    bus.handle(Later, { group: 'later' }, async (event, ctx) => {
      runs.fn(event.data.early);
      if (!event.data.early && runs.calls.filter((e) => !e).length === 1) await ctx.retryAfter(30);
    });
    await bus.start();
    await bus.publish(Later, { early: false });
    const [deferred, acked] = await seen.ended.waitForCount(2, { description: 'the retryAfter and the run after it' });
    expect(deferred).toMatchObject({ outcome: 'defer', attempt: 1 });
    expect(deferred?.delayMs).toBeGreaterThan(0);
    expect(deferred?.delayMs).toBeLessThanOrEqual(30);
    expect(acked).toMatchObject({ outcome: 'ack', attempt: 1 }); // a deferral is not a failed attempt

    seen.ended.clear();
    await bus.publish(Later, { early: true }, { delay: 1300 });
    const [early, due] = await seen.ended.waitForCount(2, { description: 'the early arrival deferred, then handled' });
    expect(early).toMatchObject({ outcome: 'defer', type: 'observe.later' });
    expect(early?.delayMs).toBeGreaterThan(100);
    expect(early?.delayMs).toBeLessThanOrEqual(300);
    expect(due?.outcome).toBe('ack');
    expect(runs.calls.filter((e) => e)).toHaveLength(1); // the early arrival never reached the handler
  });

  it('tells a delivery whose middleware broke as error, with what broke', async () => {
    const seen = listen();
    const broken: Instrumentation = {
      process: () => (next) => async (ctx) => {
        if (ctx.attempt === 1) throw new Error('instrumentation bug');
        await next(ctx);
      },
    };
    const bus = await busWith([observeBus(seen.listener), broken]);
    await bus.publish(Job, { mode: 'ok' });
    const ends = await seen.ended.waitForCount(2, { description: 'the broken attempt and its redelivery' });
    expect(ends.map((e) => [e.attempt, e.outcome, e.reason])).toEqual([
      [1, 'error', 'instrumentation bug'],
      [2, 'ack', undefined],
    ]);
  });

  it('keeps working when the listener throws', async () => {
    const ended = createSpy<DeliveryEndObservation>();
    const bus = await busWith([
      observeBus({
        deliveryStarted: () => {
          throw new Error('listener broke');
        },
      }),
      observeBus({ deliveryEnded: ended.fn }),
    ]);
    await bus.publish(Job, { mode: 'ok' });
    const [end] = await ended.waitForCount(1);
    expect(end?.outcome).toBe('ack');
  });
});

describe('observeBus with tracing', () => {
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    api.context.setGlobalContextManager(contextManager.enable());
  });
  afterAll(() => {
    api.context.disable();
  });

  it('links a delivery to its process span and a publish to its send span, whatever the order in the list', async () => {
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('observe');
    for (const order of ['tracing first', 'observer first']) {
      exporter.reset();
      const seen = listen();
      const list = [tracing({ api, tracer }), observeBus(seen.listener)];
      const bus = await busWith(order === 'tracing first' ? list : list.reverse());
      await bus.publish(Job, { mode: 'ok' });
      const [end] = await seen.ended.waitForCount(1);
      const spans = exporter.getFinishedSpans();
      const send = spans.find((s) => s.name === 'send observe.job');
      const processSpan = spans.find((s) => s.name === 'process observe.job');
      expect(seen.published.calls[0]?.traceparent, order).toBe(`00-${send?.spanContext().traceId}-${send?.spanContext().spanId}-01`);
      expect(end?.traceparent, order).toBe(`00-${processSpan?.spanContext().traceId}-${processSpan?.spanContext().spanId}-01`);
    }
  });
});

describe('SettleTap', () => {
  it('reports a defer with the time until it comes back, and only the first settle', async () => {
    const ends: unknown[] = [];
    const settled: string[] = [];
    const inner: Delivery = {
      message: { channel: 'c', headers: {}, body: new Uint8Array() },
      attempt: 3,
      ack: async () => void settled.push('ack'),
      nack: async () => void settled.push('nack'),
      deadLetter: async () => void settled.push('dead-letter'),
      defer: async () => void settled.push('defer'),
    };
    const tap = new SettleTap({ receive: () => ({ end: (o) => ends.push(o) }) }, inner);
    tap.start({ transport: 't', group: 'g', channel: 'c', attempt: 3 });
    await tap.delivery.defer(Date.now() + 60_000, {});
    await tap.delivery.ack();
    tap.finish();
    expect(ends).toEqual([{ outcome: 'defer', delayMs: expect.any(Number) }]);
    expect((ends[0] as { delayMs: number }).delayMs).toBeGreaterThan(59_000);
    expect(settled).toEqual(['defer', 'ack']); // the tap passes every call on; the Delivery itself ignores late ones
  });

  it('reports a broken chain, a failed settle and a delivery never settled as error', async () => {
    const ends: { outcome: string; reason?: string }[] = [];
    const inner = (fail: boolean): Delivery => ({
      message: { channel: 'c', headers: {}, body: new Uint8Array() },
      attempt: 1,
      ack: async () => {},
      nack: async () => {
        if (fail) throw new Error('broker said no');
      },
      deadLetter: async () => {},
      defer: async () => {},
    });
    const tapped = (fail = false) => {
      const tap = new SettleTap({ receive: () => ({ end: (o) => ends.push(o) }) }, inner(fail));
      tap.start({ transport: 't', group: 'g', channel: 'c', attempt: 1 });
      return tap;
    };
    const broken = tapped();
    broken.broke(new Error('middleware bug'));
    await broken.delivery.nack({ delayMs: 1000 });
    await expect(tapped(true).delivery.nack()).rejects.toThrow('broker said no');
    tapped().finish();
    expect(ends).toEqual([
      { outcome: 'error', reason: 'middleware bug' },
      { outcome: 'error', reason: 'broker said no' },
      { outcome: 'error', reason: 'the delivery was not settled by the pipeline' },
    ]);
  });
});
