import { ConfigError } from '../errors.js';
import { type BusListener, type DeliveryEndObservation, type DeliveryStartObservation, observeBus } from '../observe/observe-bus.js';
import { messagingSystem } from '../tracing/attributes.js';
import type { BusInfo, Instrumentation } from '../tracing/hooks.js';
import type { OtelApi, OtelContext } from '../tracing/otel.js';
import { parseTraceparent } from '../tracing/trace-context.js';
import type { Transport } from '../transport.js';
import { createInstruments, type Instruments, METRIC_ATTR } from './instruments.js';
import type { OtelAttributes, OtelMeter, OtelMeterProvider, OtelMetricsApi } from './otel-metrics.js';

export interface MetricsOptions {
  /** Where the instruments come from: `meterProvider.getMeter('@org/eventbus')`. */
  meterProvider?: OtelMeterProvider;
  /** Or the meter itself. */
  meter?: OtelMeter;
  /**
   * The `@opentelemetry/api` module: each number is then recorded in the context of its span (the
   * process span, the send span) so an SDK that samples exemplars links it to the trace; and without a
   * provider or meter, the global MeterProvider (`api.metrics`) is used.
   */
  api?: OtelApi | OtelMetricsApi;
}

/**
 * OpenTelemetry metrics for the bus, named by the messaging semantic conventions (docs/metrics.md):
 *
 *     createEventBus({ transport, source, instrumentation: [tracing({ api }), createMetrics({ api, meterProvider })] })
 *
 * Built on `observeBus`: one observation of each publish and of each delivery's start and settle.
 * The backlog gauges ask `transport.backlog(group)` when the reader collects, for every group the bus
 * has handlers for, on transports that implement it.
 */
export function createMetrics(options: MetricsOptions): Instrumentation {
  const meter = meterOf(options);
  const { api } = options;
  const instruments = createInstruments(meter);
  const buses: BusInfo[] = [];
  meter.addBatchObservableCallback((result) => observeBacklogs(buses, instruments, result), [instruments.backlog, instruments.backlogAge]);

  /** The context to record in: the span's, so the value can carry an exemplar of its trace. */
  const contextOf = (traceparent: string | undefined): OtelContext | undefined => {
    if (!api || traceparent === undefined) return undefined;
    const spanContext = parseTraceparent(api, traceparent);
    return spanContext ? api.trace.setSpanContext(api.context.active(), spanContext) : undefined;
  };

  const listener: BusListener = {
    published(o) {
      const attributes: OtelAttributes = {
        [METRIC_ATTR.system]: messagingSystem(o.transport),
        [METRIC_ATTR.destination]: o.channel,
        [METRIC_ATTR.operationName]: 'send',
        [METRIC_ATTR.operationType]: 'send',
        [METRIC_ATTR.eventType]: o.type,
      };
      if (o.error !== undefined) attributes[METRIC_ATTR.errorType] = errorType(o.error);
      const context = contextOf(o.traceparent);
      instruments.sent.add(o.count, attributes, context);
      instruments.operationDuration.record(o.durationMs / 1000, attributes, context);
    },
    deliveryStarted(o) {
      const attributes = deliveryAttributes(o);
      instruments.consumed.add(1, { ...attributes, [METRIC_ATTR.operationName]: 'receive', [METRIC_ATTR.operationType]: 'receive' });
      instruments.inFlight.add(1, attributes);
    },
    deliveryEnded(o) {
      const attributes = deliveryAttributes(o);
      const context = contextOf(o.traceparent);
      instruments.inFlight.add(-1, attributes);
      instruments.processDuration.record(o.durationMs / 1000, processAttributes(attributes, o), context);
      if (o.outcome === 'nack') instruments.retries.add(1, attributes, context);
      else if (o.outcome === 'dead-letter') instruments.deadLetters.add(1, attributes, context);
      else if (o.outcome === 'defer') instruments.deferrals.add(1, attributes, context);
    },
  };
  return {
    ...observeBus(listener),
    attach(bus) {
      if (typeof bus.transport.backlog === 'function') buses.push(bus);
    },
  };
}

/**
 * `createMetrics()` with `@opentelemetry/api` loaded on demand (the global MeterProvider unless one
 * is given), so the bus works without the optional peer installed until metrics are asked for.
 */
export async function loadMetrics(options: Omit<MetricsOptions, 'api'> = {}): Promise<Instrumentation> {
  let api: OtelMetricsApi;
  try {
    api = (await import('@opentelemetry/api')) as unknown as OtelMetricsApi;
  } catch (error) {
    throw new ConfigError('metrics', `needs the optional peer @opentelemetry/api installed (${String(error)})`);
  }
  return createMetrics({ ...options, api });
}

function meterOf(options: MetricsOptions): OtelMeter {
  if (options?.meter !== undefined) {
    if (typeof options.meter.createCounter !== 'function') throw new ConfigError('meter', 'must be an OpenTelemetry Meter');
    return options.meter;
  }
  if (options?.meterProvider !== undefined) {
    if (typeof options.meterProvider.getMeter !== 'function') throw new ConfigError('meterProvider', 'must be an OpenTelemetry MeterProvider');
    return options.meterProvider.getMeter('@org/eventbus');
  }
  const api = options?.api as Partial<OtelMetricsApi> | undefined;
  if (typeof api?.metrics?.getMeter === 'function') return api.metrics.getMeter('@org/eventbus');
  throw new ConfigError('meterProvider', 'is required (or pass meter, or api: the @opentelemetry/api module)');
}

/** Labels shared by a delivery's +1 and −1 (an up-down counter only balances on identical attributes). */
function deliveryAttributes(o: DeliveryStartObservation): OtelAttributes {
  const attributes: OtelAttributes = {
    [METRIC_ATTR.system]: messagingSystem(o.transport),
    [METRIC_ATTR.destination]: o.channel,
    [METRIC_ATTR.consumerGroup]: o.group,
  };
  if (o.type !== undefined) attributes[METRIC_ATTR.eventType] = o.type;
  return attributes;
}

function processAttributes(attributes: OtelAttributes, o: DeliveryEndObservation): OtelAttributes {
  const labelled: OtelAttributes = {
    ...attributes,
    [METRIC_ATTR.operationName]: 'process',
    [METRIC_ATTR.operationType]: 'process',
    [METRIC_ATTR.outcome]: o.outcome,
  };
  // A settle other than ack or defer is a failed attempt: error.type names how it failed (low cardinality).
  if (o.outcome === 'nack' || o.outcome === 'dead-letter' || o.outcome === 'error') labelled[METRIC_ATTR.errorType] = o.outcome;
  return labelled;
}

/** The error's class name ("UnroutableError"), as the conventions ask: low cardinality, never the message. */
function errorType(error: unknown): string {
  return error instanceof Error ? error.name || error.constructor.name : '_OTHER';
}

async function observeBacklogs(
  buses: readonly BusInfo[],
  instruments: Instruments,
  result: { observe(metric: Instruments['backlog'], value: number, attributes?: OtelAttributes): void },
): Promise<void> {
  const seen = new Map<Transport, Set<string>>();
  const asks: Promise<void>[] = [];
  for (const { transport, groups } of buses) {
    const asked = seen.get(transport) ?? new Set<string>();
    seen.set(transport, asked);
    for (const group of groups()) {
      // Two buses on one transport may share a group: ask the broker once.
      if (asked.has(group)) continue;
      asked.add(group);
      const attributes = { [METRIC_ATTR.system]: messagingSystem(transport.name), [METRIC_ATTR.consumerGroup]: group };
      asks.push(
        (async () => {
          const backlog = await transport.backlog?.(group);
          if (!backlog) return;
          result.observe(instruments.backlog, backlog.messages, attributes);
          if (backlog.oldestAgeMs !== undefined) result.observe(instruments.backlogAge, backlog.oldestAgeMs / 1000, attributes);
        })().catch(() => {
          // A broker that cannot answer now (closed, reconnecting) reports no value this round.
        }),
      );
    }
  }
  await Promise.all(asks);
}
