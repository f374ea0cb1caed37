import type { EventBus } from '../../bus.js';
import { CLOCK_TOLERANCE_MS } from '../../schedule.js';
import { createSpy } from '../spy.js';
import type { PayloadContract } from './harness.js';

export interface DelayedDeliveryOptions {
  /** How many events (each handled once). */
  count: number;
  /** Delays are spread evenly over [minDelayMs, maxDelayMs] and published in shuffled order. */
  minDelayMs: number;
  maxDelayMs: number;
  /** How long after the last event's time to wait for stragglers. */
  graceMs?: number;
}

export interface DelayedDeliveryReport {
  transport: string;
  count: number;
  /** Publish calls per second (each a scheduled event), sequential awaits. */
  publishPerSecond: number;
  /** Handled before their time, beyond the clock tolerance: must be 0. */
  early: number;
  /** ms from each event's scheduled time to its handler starting. */
  latenessMs: { p50: number; p99: number; max: number; min: number };
  /** Every attempt number seen (deferrals and hops must keep it at 1). */
  attempts: number[];
}

function percentileOf(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Publish `count` events through `publisher`, each with `deliverAt` spread over the delay range, to a
 * handler registered here on `consumer` (not started yet) in `group`; wait for all and measure how
 * late each ran. The conformance scenario `delay-never-early` and `bench/delays.ts` share it.
 */
export async function measureDelayedDelivery(
  publisher: EventBus,
  consumer: EventBus,
  contract: PayloadContract,
  group: string,
  options: DelayedDeliveryOptions,
): Promise<DelayedDeliveryReport> {
  const { count, minDelayMs, maxDelayMs } = options;
  const due = new Map<string, number>();
  const handled = createSpy<{ id: string; at: number; attempt: number }>();
  consumer.handle(contract, { group }, (event, ctx) => {
    handled.fn({ id: event.id, at: Date.now(), attempt: ctx.attempt });
  });
  await consumer.start();

  const delays = Array.from({ length: count }, (_, i) => (count === 1 ? minDelayMs : minDelayMs + ((maxDelayMs - minDelayMs) * i) / (count - 1)));
  // Shuffled, so a transport cannot pass by handing events out in publish order.
  for (let i = delays.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [delays[i], delays[j]] = [delays[j]!, delays[i]!];
  }
  const started = performance.now();
  for (const [n, delay] of delays.entries()) {
    const deliverAt = Date.now() + Math.round(delay);
    const event = await publisher.publish(contract, { n }, { deliverAt });
    due.set(event.id, deliverAt);
  }
  const publishMs = performance.now() - started;

  const waitMs = maxDelayMs + (options.graceMs ?? 30_000);
  await handled.waitFor((calls) => new Set(calls.map((c) => c.id)).size >= count, {
    timeoutMs: waitMs,
    description: `${count} delayed events handled`,
  });
  const first = new Map<string, { at: number; attempt: number }>();
  for (const c of handled.calls) if (!first.has(c.id)) first.set(c.id, c);
  const lateness = [...first].map(([id, c]) => c.at - due.get(id)!).sort((a, b) => a - b);
  return {
    transport: publisher.transport.name,
    count,
    publishPerSecond: Math.round((count / publishMs) * 1000),
    early: lateness.filter((l) => l < -CLOCK_TOLERANCE_MS).length,
    latenessMs: {
      min: lateness[0]!,
      p50: percentileOf(lateness, 50),
      p99: percentileOf(lateness, 99),
      max: lateness[lateness.length - 1]!,
    },
    attempts: [...new Set([...first.values()].map((c) => c.attempt))],
  };
}

/** One line for the test log: the transport and its lateness. */
export function formatDelayReport(r: DelayedDeliveryReport): string {
  const { p50, p99, max, min } = r.latenessMs;
  return `[delays] ${r.transport}: ${r.count} events, lateness p50 ${p50} ms, p99 ${p99} ms, max ${max} ms (min ${min} ms), early ${r.early}, ${r.publishPerSecond} publishes/s`;
}
