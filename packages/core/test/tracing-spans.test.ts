import { randomUUID } from 'node:crypto';
import * as api from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type CloudEvent, ConfigError, createEventBus, defineEvent, type EventBus, MemoryTransport, MessageTooLargeError } from '../src/index.js';
import { createSpy, eventually } from '../src/testing/index.js';
import { loadTracing, tracing } from '../src/tracing/tracing.js';

const Job = defineEvent({ type: 'spans.job', description: 'A job.', schema: z.object({ fail: z.boolean(), blob: z.string().optional() }) });

const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('spans');
const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
  exporter.reset();
});
const newBus = (instrumentation = tracing({ api, tracer }), maxMessageBytes?: number) => {
  const bus = createEventBus({
    transport: new MemoryTransport({ broker: randomUUID() }),
    source: '/test/spans',
    instrumentation,
    defaults: { backoff: { initialMs: 1, maxMs: 2 } },
    ...(maxMessageBytes ? { maxMessageBytes } : {}),
  });
  buses.push(bus);
  return bus;
};

describe('tracing spans', () => {
  it('marks a process span as an error when the attempt is nacked for retry, and when it is dead-lettered', async () => {
    const bus = newBus();
    const attempts = createSpy<number>();
    bus.handle(Job, { group: 'failing', maxAttempts: 2 }, (_event, ctx) => {
      attempts.fn(ctx.attempt);
      throw new Error('boom');
    });
    await bus.start();
    await bus.publish(Job, { fail: true });
    await attempts.waitForCount(2);
    const spans = await eventually(
      () => exporter.getFinishedSpans().filter((s) => s.name === 'process spans.job'),
      (s) => s.length === 2,
      { description: 'two process spans' },
    );
    const [first, second] = [...spans].sort((a, b) => Number(a.attributes['messaging.message.delivery_count']) - Number(b.attributes['messaging.message.delivery_count']));
    expect(first?.status).toMatchObject({ code: api.SpanStatusCode.ERROR, message: 'nacked on attempt 1' });
    expect(second?.status.code).toBe(api.SpanStatusCode.ERROR);
    expect(second?.status.message).toMatch(/^dead-lettered: .*boom/);
    expect(second?.attributes['messaging.consumer.group.name']).toBe('failing');
    expect(new Set(spans.map((s) => s.parentSpanContext?.spanId)).size).toBe(1); // both attempts: children of the one send span
  });

  it('records a publish that fails before it reaches the broker on the send span', async () => {
    const bus = newBus(tracing({ api, tracer }), 600);
    await expect(bus.publish(Job, { fail: false, blob: 'x'.repeat(2_000) })).rejects.toBeInstanceOf(MessageTooLargeError);
    const [send] = exporter.getFinishedSpans();
    expect(send?.name).toBe('send spans.job');
    expect(send?.kind).toBe(api.SpanKind.PRODUCER);
    expect(send?.status.code).toBe(api.SpanStatusCode.ERROR);
  });

  it('keeps the caller’s trace context when no SDK is registered (a no-op tracer)', async () => {
    const bus = newBus(tracing({ api })); // the global provider is the API's no-op one here
    const seen = createSpy<CloudEvent>();
    bus.handle(Job, { group: 'noop' }, (event) => seen.fn(event));
    await bus.start();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await bus.publish(Job, { fail: false }, { traceparent });
    const plain = await bus.publish(Job, { fail: false });
    const [withContext, without] = (await seen.waitForCount(2)) as [CloudEvent, CloudEvent];
    expect(withContext.traceparent).toBe(traceparent);
    expect(plain.traceparent).toBeUndefined();
    expect(without.traceparent).toBeUndefined();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('loads @opentelemetry/api on demand, and refuses a missing api', async () => {
    const loaded = await loadTracing({ tracer });
    expect(typeof loaded.send).toBe('function');
    expect(typeof loaded.process).toBe('function');
    expect(() => tracing({} as never)).toThrow(ConfigError);
  });
});
