// The few parts of the @opentelemetry/api metrics interfaces that eventbus uses, described
// structurally (as tracing/otel.ts does for traces) so that core never requires the optional peer:
// pass a MeterProvider from @opentelemetry/sdk-metrics, a Meter, or the api module itself.
import type { OtelApi, OtelAttributeValue, OtelContext } from '../tracing/otel.js';

export type OtelAttributes = Record<string, OtelAttributeValue>;

export interface OtelInstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

export interface OtelCounter {
  add(value: number, attributes?: OtelAttributes, context?: OtelContext): void;
}

export interface OtelHistogram {
  record(value: number, attributes?: OtelAttributes, context?: OtelContext): void;
}

export interface OtelObservable {
  addCallback(callback: (result: { observe(value: number, attributes?: OtelAttributes): void }) => void | Promise<void>): void;
}

export interface OtelBatchObservableResult {
  observe(metric: OtelObservable, value: number, attributes?: OtelAttributes): void;
}

export interface OtelMeter {
  createCounter(name: string, options?: OtelInstrumentOptions): OtelCounter;
  createUpDownCounter(name: string, options?: OtelInstrumentOptions): OtelCounter;
  createHistogram(name: string, options?: OtelInstrumentOptions): OtelHistogram;
  createObservableGauge(name: string, options?: OtelInstrumentOptions): OtelObservable;
  addBatchObservableCallback(callback: (result: OtelBatchObservableResult) => void | Promise<void>, observables: OtelObservable[]): void;
}

export interface OtelMeterProvider {
  getMeter(name: string, version?: string): OtelMeter;
}

/** The `@opentelemetry/api` module with its `metrics` part (the global MeterProvider). */
export interface OtelMetricsApi extends OtelApi {
  metrics: OtelMeterProvider;
}
