import { expect } from 'vitest';
import { METRIC } from '../../metrics/instruments.js';
import { createMetrics } from '../../metrics/metrics.js';
import type { OtelAttributes, OtelBatchObservableResult, OtelMeter, OtelObservable } from '../../metrics/otel-metrics.js';
import { messagingSystem } from '../../tracing/attributes.js';
import { createSpy } from '../spy.js';
import type { Scenario } from './scenario.js';

interface Recorded {
  readonly name: string;
  readonly value: number;
  readonly attributes: OtelAttributes;
}

/**
 * A Meter that keeps every value it is given, so the suite checks what eventbus records without an
 * OpenTelemetry SDK (the testing entry must not need one; core's own tests use the SDK's reader).
 */
function recordingMeter() {
  const values = createSpy<Recorded>();
  const batches: { callback: (result: OtelBatchObservableResult) => void | Promise<void>; observables: OtelObservable[] }[] = [];
  const names = new Map<OtelObservable, string>();
  const recorder = (name: string) => ({
    add: (value: number, attributes: OtelAttributes = {}) => values.fn({ name, value, attributes }),
    record: (value: number, attributes: OtelAttributes = {}) => values.fn({ name, value, attributes }),
  });
  const observable = (name: string): OtelObservable => {
    const o: OtelObservable = { addCallback: () => {} };
    names.set(o, name);
    return o;
  };
  const meter: OtelMeter = {
    createCounter: recorder,
    createUpDownCounter: recorder,
    createHistogram: recorder,
    createObservableGauge: observable,
    addBatchObservableCallback: (callback, observables) => void batches.push({ callback, observables }),
  };
  /** What the observable gauges report now (as a reader's collection would ask). */
  const observe = async (): Promise<Recorded[]> => {
    const seen: Recorded[] = [];
    for (const { callback } of batches) {
      await callback({ observe: (metric, value, attributes = {}) => void seen.push({ name: names.get(metric) ?? '?', value, attributes }) });
    }
    return seen;
  };
  return { meter, values, observe };
}

const total = (values: readonly Recorded[], name: string, where: OtelAttributes = {}) =>
  values.filter((v) => v.name === name && Object.entries(where).every(([k, x]) => v.attributes[k] === x)).reduce((n, v) => n + v.value, 0);
const count = (values: readonly Recorded[], name: string, where: OtelAttributes = {}) =>
  values.filter((v) => v.name === name && Object.entries(where).every(([k, x]) => v.attributes[k] === x)).length;

export const metricsScenarios: Scenario[] = [
  {
    name: 'metrics',
    title: 'metrics are recorded for a published, a retried and a dead-lettered event, with the messaging attributes; in-flight returns to 0',
    async run(h) {
      const { meter, values, observe } = recordingMeter();
      const job = h.contract('metrics-job');
      const group = h.group();
      const bus = await h.bus({ instrumentation: createMetrics({ meter }), defaults: { backoff: { initialMs: 20, maxMs: 50 } } });
      bus.handle(job, { group, maxAttempts: 2 }, (event, ctx) => {
        if (event.data.n === 3 || (event.data.n === 2 && ctx.attempt === 1)) throw new Error(`metrics scenario failure ${event.data.n}`);
      });
      await bus.start();
      const system = messagingSystem(bus.transport.name);
      const where = { 'messaging.system': system, 'messaging.destination.name': job.channel, 'messaging.consumer.group.name': group };
      await bus.publish(job, { n: 1 }); // handled
      await bus.publish(job, { n: 2 }); // retried once, then handled
      await bus.publish(job, { n: 3 }); // retried, then dead-lettered
      await values.waitFor((v) => count(v, METRIC.processDuration, where) >= 5 && total(v, METRIC.deadLetters, where) >= 1, {
        timeoutMs: 30_000,
        description: 'five settled attempts and a dead letter',
      });
      const v = values.calls;
      expect(total(v, METRIC.sent, { 'messaging.system': system, 'messaging.destination.name': job.channel, 'messaging.operation.name': 'send' })).toBe(3);
      expect(v.filter((x) => x.name === METRIC.sent && x.attributes['error.type'] !== undefined), 'no publish refused').toEqual([]);
      expect(count(v, METRIC.operationDuration)).toBe(3);
      expect(total(v, METRIC.consumed, where)).toBe(5);
      expect(count(v, METRIC.processDuration, { ...where, 'eventbus.outcome': 'ack' })).toBe(2);
      expect(count(v, METRIC.processDuration, { ...where, 'eventbus.outcome': 'nack' })).toBe(2);
      expect(count(v, METRIC.processDuration, { ...where, 'eventbus.outcome': 'dead-letter' })).toBe(1);
      expect(total(v, METRIC.retries, where)).toBe(2);
      expect(total(v, METRIC.deadLetters, where)).toBe(1);
      expect(total(v, METRIC.inFlight, where)).toBe(0);
      for (const d of v.filter((x) => x.name === METRIC.processDuration)) expect(d.value, 'seconds, not milliseconds').toBeLessThan(30);

      // The backlog gauge, where the transport can tell: a number for the group.
      if (typeof bus.transport.backlog === 'function') {
        const gauges = await observe();
        const backlog = gauges.find((g) => g.name === METRIC.backlog && g.attributes['messaging.consumer.group.name'] === group);
        expect(backlog?.value, 'the group’s backlog once all is settled').toBe(0);
      }
    },
  },
];
