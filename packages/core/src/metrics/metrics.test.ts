import { randomUUID } from 'node:crypto';
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type DataPoint, type Histogram, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, type EventBus } from '../bus.js';
import { defineEvent } from '../contract.js';
import { ConfigError, UnroutableError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { MemoryTransport } from '../memory/transport.js';
import { eventually } from '../testing/spy.js';
import { tracing } from '../tracing/tracing.js';
import type { OtelContext } from '../tracing/otel.js';
import { METRIC } from './instruments.js';
import { createMetrics } from './metrics.js';
import type { OtelAttributes, OtelMeter } from './otel-metrics.js';

const Job = defineEvent({ type: 'metrics.job', description: 'A job.', schema: z.object({ mode: z.enum(['ok', 'fail-once', 'fail']) }) });

/** A pull reader: `collect()` when the test asks, as Prometheus scrapes. */
class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  }
}

type Point = DataPoint<number | Histogram>;
const pointsOf = (all: MetricData[], name: string): Point[] => (all.find((m) => m.descriptor.name === name)?.dataPoints ?? []) as Point[];
const sum = (points: Point[], where: Record<string, unknown> = {}) =>
  points.filter((p) => Object.entries(where).every(([k, v]) => p.attributes[k] === v)).reduce((n, p) => n + (p.value as number), 0);
const histogramCount = (points: Point[], where: Record<string, unknown> = {}) =>
  points.filter((p) => Object.entries(where).every(([k, v]) => p.attributes[k] === v)).reduce((n, p) => n + (p.value as Histogram).count, 0);

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  api.context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  api.context.disable();
});

const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});

function setup(meterOptions: { meter?: OtelMeter } = {}) {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spans = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }).getTracer('metrics');
  const transport = new MemoryTransport({ broker: randomUUID() });
  const bus = createEventBus({
    transport,
    source: '/test/metrics',
    logger: silentLogger,
    instrumentation: [tracing({ api, tracer }), createMetrics({ api, ...(meterOptions.meter ? { meter: meterOptions.meter } : { meterProvider }) })],
    defaults: { backoff: { initialMs: 1, maxMs: 2 } },
  });
  buses.push(bus);
  bus.handle(Job, { group: 'workers', maxAttempts: 2 }, (event, ctx) => {
    if (event.data.mode === 'fail' || (event.data.mode === 'fail-once' && ctx.attempt === 1)) throw new Error('boom');
  });
  return { reader, bus, transport, spans };
}

describe('createMetrics', () => {
  it('records a published, a retried and a dead-lettered event by the messaging conventions', async () => {
    const { reader, bus } = setup();
    await bus.start();
    await bus.publish(Job, { mode: 'ok' });
    await bus.publish(Job, { mode: 'fail-once' });
    await bus.publish(Job, { mode: 'fail' });
    const all = await eventually(
      () => reader.metrics(),
      (m) => sum(pointsOf(m, METRIC.deadLetters)) === 1 && histogramCount(pointsOf(m, METRIC.processDuration)) === 5,
      { description: 'five settled attempts, one dead letter' },
    );
    const system = { 'messaging.system': 'memory', 'messaging.destination.name': 'metrics.job', 'cloudevents.event_type': 'metrics.job' };
    const group = { ...system, 'messaging.consumer.group.name': 'workers' };

    expect(pointsOf(all, METRIC.sent).map((p) => [p.attributes, p.value])).toEqual([
      [{ ...system, 'messaging.operation.name': 'send', 'messaging.operation.type': 'send' }, 3],
    ]);
    expect(histogramCount(pointsOf(all, METRIC.operationDuration), { 'messaging.operation.name': 'send' })).toBe(3);
    expect(sum(pointsOf(all, METRIC.consumed), { ...group, 'messaging.operation.name': 'receive' })).toBe(5); // 1 + 2 + 2 attempts
    const processed = pointsOf(all, METRIC.processDuration);
    expect(histogramCount(processed, { ...group, 'eventbus.outcome': 'ack' })).toBe(2);
    expect(histogramCount(processed, { ...group, 'eventbus.outcome': 'nack', 'error.type': 'nack' })).toBe(2);
    expect(histogramCount(processed, { ...group, 'eventbus.outcome': 'dead-letter', 'error.type': 'dead-letter' })).toBe(1);
    expect(processed.find((p) => p.attributes['eventbus.outcome'] === 'ack')?.attributes['error.type']).toBeUndefined();
    expect(sum(pointsOf(all, METRIC.retries), group)).toBe(2);
    expect(sum(pointsOf(all, METRIC.deadLetters), group)).toBe(1);
    expect(sum(pointsOf(all, METRIC.deferrals))).toBe(0);
    expect(sum(pointsOf(all, METRIC.inFlight), group)).toBe(0);
    const descriptor = all.find((m) => m.descriptor.name === METRIC.processDuration)?.descriptor;
    expect(descriptor?.unit).toBe('s');
    // Seconds, not milliseconds: a handler this fast lands in the lowest buckets.
    const ack = processed.find((p) => p.attributes['eventbus.outcome'] === 'ack')?.value as Histogram;
    expect(ack.buckets.boundaries[0]).toBe(0.005);
    expect(ack.max).toBeLessThan(1);
  });

  it('counts a refused publish with its error type, and in-flight deliveries while they run', async () => {
    const { reader, bus, transport } = setup();
    const Lonely = defineEvent({ type: 'metrics.lonely', description: 'Nobody listens.', schema: z.object({}) });
    await expect(bus.publish(Lonely, {})).rejects.toBeInstanceOf(UnroutableError);
    const all = await reader.metrics();
    expect(sum(pointsOf(all, METRIC.sent), { 'cloudevents.event_type': 'metrics.lonely', 'error.type': 'UnroutableError' })).toBe(1);

    // A handler held open shows as in flight.
    const Slow = defineEvent({ type: 'metrics.slow', description: 'Slow.', schema: z.object({}) });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    bus.handle(Slow, { group: 'slow' }, () => held);
    await bus.start();
    await bus.publish(Slow, {});
    await eventually(
      () => reader.metrics(),
      (m) => sum(pointsOf(m, METRIC.inFlight), { 'messaging.consumer.group.name': 'slow' }) === 1,
      { description: 'one in flight' },
    );
    release();
    await eventually(
      () => reader.metrics(),
      (m) => sum(pointsOf(m, METRIC.inFlight), { 'messaging.consumer.group.name': 'slow' }) === 0,
      { description: 'none in flight' },
    );
    expect(transport.name).toBe('memory');
  });

  it('reports each group’s backlog as the transport tells it', async () => {
    const { reader, bus } = setup();
    await bus.provision();
    await bus.publish(Job, { mode: 'ok' });
    await bus.publish(Job, { mode: 'ok' });
    const before = await reader.metrics();
    expect(pointsOf(before, METRIC.backlog).map((p) => [p.attributes, p.value])).toEqual([
      [{ 'messaging.system': 'memory', 'messaging.consumer.group.name': 'workers' }, 2],
    ]);
    await bus.start();
    await eventually(
      () => reader.metrics(),
      (m) => pointsOf(m, METRIC.backlog)[0]?.value === 0,
      { description: 'the backlog drained' },
    );
  });

  it('records in the span’s context, so exemplars can link to the trace', async () => {
    const recorded: { name: string; context: OtelContext | undefined }[] = [];
    const real = new MeterProvider({ readers: [new TestReader()] }).getMeter('spy');
    // The JS SDK (2.x) keeps no exemplars yet: check the context eventbus hands it, which is what an exemplar takes.
    const spying: OtelMeter = {
      createCounter: (name, o) => {
        const c = real.createCounter(name, o);
        return {
          add: (v: number, a?: OtelAttributes, ctx?: OtelContext) => {
            recorded.push({ name, context: ctx });
            c.add(v, a, ctx as api.Context);
          },
        };
      },
      createUpDownCounter: (name, o) => real.createUpDownCounter(name, o),
      createHistogram: (name, o) => {
        const h = real.createHistogram(name, o);
        return {
          record: (v: number, a?: OtelAttributes, ctx?: OtelContext) => {
            recorded.push({ name, context: ctx });
            h.record(v, a, ctx as api.Context);
          },
        };
      },
      createObservableGauge: (name, o) => real.createObservableGauge(name, o),
      addBatchObservableCallback: (cb, observables) => real.addBatchObservableCallback(cb as never, observables as never),
    };
    const { bus, spans } = setup({ meter: spying });
    await bus.start();
    await bus.publish(Job, { mode: 'fail' });
    await eventually(
      () => recorded.filter((r) => r.name === METRIC.deadLetters),
      (r) => r.length === 1,
      { description: 'the dead letter recorded' },
    );
    const spanIdOf = (name: string) => api.trace.getSpanContext(recorded.find((r) => r.name === name)?.context as api.Context)?.spanId;
    const finished = await eventually(
      () => spans.getFinishedSpans(),
      (s) => s.filter((x) => x.name === 'process metrics.job').length === 2,
      { description: 'both process spans' },
    );
    const processSpans = finished.filter((s) => s.name === 'process metrics.job').map((s) => s.spanContext().spanId);
    const sendSpan = finished.find((s) => s.name === 'send metrics.job')?.spanContext().spanId;
    expect(spanIdOf(METRIC.sent)).toBe(sendSpan);
    expect(processSpans).toContain(spanIdOf(METRIC.retries));
    expect(processSpans).toContain(spanIdOf(METRIC.deadLetters));
    expect(spanIdOf(METRIC.retries)).not.toBe(spanIdOf(METRIC.deadLetters)); // each attempt its own span
  });

  it('fails at construction without a meter, naming the option', () => {
    expect(() => createMetrics({})).toThrow(ConfigError);
    expect(() => createMetrics({})).toThrow(/meterProvider/);
    expect(() => createMetrics({ meterProvider: {} as never })).toThrow(/meterProvider/);
    expect(() => createMetrics({ api })).not.toThrow(); // the global MeterProvider (a no-op until one is registered)
  });
});
