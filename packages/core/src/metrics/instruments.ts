import type { OtelCounter, OtelHistogram, OtelMeter, OtelObservable } from './otel-metrics.js';

/**
 * Instrument and attribute names: the OpenTelemetry messaging semantic conventions (v1.27+) where they
 * name the thing, `eventbus.*` for what they do not cover (docs/decisions/metrics.md says why).
 */
export const METRIC = {
  sent: 'messaging.client.sent.messages',
  operationDuration: 'messaging.client.operation.duration',
  consumed: 'messaging.client.consumed.messages',
  processDuration: 'messaging.process.duration',
  retries: 'eventbus.retries',
  deadLetters: 'eventbus.dead_letters',
  deferrals: 'eventbus.deferrals',
  inFlight: 'eventbus.in_flight',
  backlog: 'eventbus.backlog',
  backlogAge: 'eventbus.backlog.age',
} as const;

export const METRIC_ATTR = {
  system: 'messaging.system',
  destination: 'messaging.destination.name',
  consumerGroup: 'messaging.consumer.group.name',
  operationName: 'messaging.operation.name',
  operationType: 'messaging.operation.type',
  errorType: 'error.type',
  eventType: 'cloudevents.event_type',
  outcome: 'eventbus.outcome',
} as const;

// The conventions' advised boundaries for messaging durations, in seconds (the SDK's default buckets are for milliseconds).
const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export interface Instruments {
  sent: OtelCounter;
  operationDuration: OtelHistogram;
  consumed: OtelCounter;
  processDuration: OtelHistogram;
  retries: OtelCounter;
  deadLetters: OtelCounter;
  deferrals: OtelCounter;
  inFlight: OtelCounter;
  backlog: OtelObservable;
  backlogAge: OtelObservable;
}

export function createInstruments(meter: OtelMeter): Instruments {
  const seconds = { unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS_S } };
  return {
    sent: meter.createCounter(METRIC.sent, { unit: '{message}', description: 'Messages the bus sent (error.type set when the broker refused them).' }),
    operationDuration: meter.createHistogram(METRIC.operationDuration, { ...seconds, description: 'Duration of each publish call, until the broker confirmed or refused it.' }),
    consumed: meter.createCounter(METRIC.consumed, { unit: '{message}', description: 'Deliveries handed to the bus’s handlers (every attempt).' }),
    processDuration: meter.createHistogram(METRIC.processDuration, { ...seconds, description: 'From a delivery’s start to its settle, by outcome.' }),
    retries: meter.createCounter(METRIC.retries, { unit: '{message}', description: 'Deliveries nacked for a later attempt.' }),
    deadLetters: meter.createCounter(METRIC.deadLetters, { unit: '{message}', description: 'Deliveries moved to the group’s dead letters (poison included).' }),
    deferrals: meter.createCounter(METRIC.deferrals, { unit: '{message}', description: 'Deliveries deferred to a later time (not a failed attempt).' }),
    inFlight: meter.createUpDownCounter(METRIC.inFlight, { unit: '{message}', description: 'Deliveries started and not yet settled.' }),
    backlog: meter.createObservableGauge(METRIC.backlog, { unit: '{message}', description: 'Events kept for a group and not yet settled, where the transport can tell.' }),
    backlogAge: meter.createObservableGauge(METRIC.backlogAge, { unit: 's', description: 'Age of the oldest event kept for a group, where the transport can tell.' }),
  };
}
