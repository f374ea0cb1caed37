import { randomUUID } from 'node:crypto';
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type CloudEvent, createEventBus, defineEvent, type EventBus, type Logger, MemoryTransport } from '../src/index.js';
import { tracing } from '../src/tracing/tracing.js';
import { createSpy, eventually } from '../src/testing/index.js';

const LaunchRequested = defineEvent({
  type: 'trace.launch.requested',
  description: 'A user asked for an instance.',
  schema: z.object({ requestId: z.string() }),
});
const InstanceLaunched = defineEvent({
  type: 'trace.instance.launched',
  description: 'The instance runs.',
  schema: z.object({ requestId: z.string(), instanceId: z.string() }),
});
const NotificationCreated = defineEvent({
  type: 'trace.notification.created',
  description: 'The user was told.',
  schema: z.object({ requestId: z.string(), message: z.string() }),
});
const NotificationDelivered = defineEvent({
  type: 'trace.notification.delivered',
  description: 'The notification reached the user.',
  schema: z.object({ requestId: z.string() }),
});

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();
const tracer = provider.getTracer('test');

beforeAll(() => {
  api.context.setGlobalContextManager(contextManager.enable());
});
afterAll(async () => {
  api.context.disable();
  await provider.shutdown();
});

const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
  exporter.reset();
});

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg?: string;
}

/** A bus with the 4-step chain: requested → launched → notification created → delivered → (recorded). */
function chainBus(logLines: LogLine[] = []) {
  const run = randomUUID();
  const line = (level: string) => (obj: object, msg?: string) => logLines.push({ level, obj: obj as Record<string, unknown>, ...(msg ? { msg } : {}) });
  const logger: Logger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  const bus = createEventBus({
    transport: new MemoryTransport({ broker: run }),
    source: '/test/tracing',
    logger,
    instrumentation: tracing({ api, tracer }),
  });
  buses.push(bus);
  const done = createSpy<CloudEvent>();
  const seen = createSpy<CloudEvent>();
  bus.handle(LaunchRequested, { group: 'launcher', emits: [InstanceLaunched] }, async (event, ctx) => {
    seen.fn(event);
    ctx.logger.info({ step: 1 }, 'launching');
    await ctx.emit(InstanceLaunched, { requestId: event.data.requestId, instanceId: 'i-1' });
  });
  bus.handle(InstanceLaunched, { group: 'notifier', emits: [NotificationCreated] }, async (event, ctx) => {
    seen.fn(event);
    ctx.logger.info({ step: 2 }, 'notifying');
    await ctx.emit(NotificationCreated, { requestId: event.data.requestId, message: 'launched' });
  });
  bus.handle(NotificationCreated, { group: 'mailer', emits: [NotificationDelivered] }, async (event, ctx) => {
    seen.fn(event);
    ctx.logger.info({ step: 3 }, 'mailing');
    await ctx.emit(NotificationDelivered, { requestId: event.data.requestId });
  });
  bus.handle(NotificationDelivered, { group: 'audit' }, async (event, ctx) => {
    seen.fn(event);
    ctx.logger.info({ step: 4 }, 'recorded');
    done.fn(event);
  });
  return { bus, done, seen };
}

const byName = (spans: ReadableSpan[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  expect(found, `spans named "${name}"`).toHaveLength(1);
  return found[0] as ReadableSpan;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('a 4-step chain on the memory transport', () => {
  it('carries causation and correlation ids from each event to the next', async () => {
    const { bus, done, seen } = chainBus();
    await bus.start();
    const first = await bus.publish(LaunchRequested, { requestId: 'r-1' });
    await done.waitForCount(1);
    const [a, b, c, d] = seen.calls as [CloudEvent, CloudEvent, CloudEvent, CloudEvent];
    expect(seen.calls.map((e) => e.type)).toEqual([LaunchRequested.type, InstanceLaunched.type, NotificationCreated.type, NotificationDelivered.type]);
    expect(a.id).toBe(first.id);
    expect(a.correlationid).toBe(first.id);
    expect(a.causationid).toBeUndefined();
    expect([b.causationid, c.causationid, d.causationid]).toEqual([a.id, b.id, c.id]);
    expect(new Set([a, b, c, d].map((e) => e.correlationid))).toEqual(new Set([first.id]));
  });

  it('is one trace: HTTP request → send → process → send → … with the right parents and attributes', async () => {
    const { bus, done } = chainBus();
    await bus.start();
    const request = tracer.startSpan('POST /launches', { kind: api.SpanKind.SERVER });
    await api.context.with(api.trace.setSpan(api.context.active(), request), () => bus.publish(LaunchRequested, { requestId: 'r-2' }));
    request.end();
    const [last] = await done.waitForCount(1);
    // The process span of the last step ends just after its handler returns.
    await eventually(() => exporter.getFinishedSpans().length, (n) => n >= 9, { description: '9 finished spans' });
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(9);
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([request.spanContext().traceId]));

    const root = byName(spans, 'POST /launches');
    let parent = root;
    for (const type of [LaunchRequested.type, InstanceLaunched.type, NotificationCreated.type, NotificationDelivered.type]) {
      const send = byName(spans, `send ${type}`);
      const processed = byName(spans, `process ${type}`);
      expect(parentOf(send), `parent of send ${type}`).toBe(parent.spanContext().spanId);
      expect(parentOf(processed), `parent of process ${type}`).toBe(send.spanContext().spanId);
      expect(send.kind).toBe(api.SpanKind.PRODUCER);
      expect(processed.kind).toBe(api.SpanKind.CONSUMER);
      expect(send.attributes['messaging.system']).toBe('memory');
      expect(send.attributes['messaging.destination.name']).toBe(type);
      expect(processed.attributes['messaging.destination.name']).toBe(type);
      expect(processed.attributes['messaging.message.id']).toBe(send.attributes['messaging.message.id']);
      expect(typeof processed.attributes['messaging.consumer.group.name']).toBe('string');
      parent = processed;
    }
    expect(byName(spans, `process ${NotificationDelivered.type}`).attributes['messaging.consumer.group.name']).toBe('audit');
    expect(last?.traceparent).toContain(request.spanContext().traceId);
  });

  it('continues a trace from the envelope alone when no context manager carries it', async () => {
    api.context.disable();
    try {
      const { bus, done } = chainBus();
      await bus.start();
      const request = tracer.startSpan('POST /launches');
      const { traceId, spanId } = request.spanContext();
      await bus.publish(LaunchRequested, { requestId: 'r-3' }, { traceparent: `00-${traceId}-${spanId}-01` });
      request.end();
      await done.waitForCount(1);
      await eventually(() => exporter.getFinishedSpans().length, (n) => n >= 9, { description: '9 finished spans' });
      const spans = exporter.getFinishedSpans();
      expect(spans).toHaveLength(9);
      expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId]));
      const launched = byName(spans, `send ${InstanceLaunched.type}`);
      expect(parentOf(launched)).toBe(byName(spans, `process ${LaunchRequested.type}`).spanContext().spanId);
    } finally {
      api.context.setGlobalContextManager(contextManager.enable());
    }
  });

  it('puts the correlation id (and the trace id) on every line a handler logs through ctx.logger', async () => {
    const lines: LogLine[] = [];
    const { bus, done } = chainBus(lines);
    await bus.start();
    const first = await bus.publish(LaunchRequested, { requestId: 'r-4' });
    await done.waitForCount(1);
    const handlerLines = lines.filter((l) => typeof l.obj.step === 'number');
    expect(handlerLines.map((l) => l.obj.step)).toEqual([1, 2, 3, 4]);
    for (const l of handlerLines) {
      expect(l.obj.correlationId).toBe(first.id);
      expect(l.obj.traceId).toMatch(/^[0-9a-f]{32}$/);
    }
  });
});
