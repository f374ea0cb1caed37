import type { EventBus } from '../../bus.js';
import { CLOCK_TOLERANCE_MS } from '../../schedule.js';
import { createSpy } from '../spy.js';
import type { z } from 'zod';
import type { EventContract } from '../../contract.js';

/** Any contract whose data is (at least) `{ n: number }`: the conformance payload, a bench's own. */
export type NumberedContract = EventContract<string, z.ZodType<{ n: number }, { n: number }>>;

export interface DelayedDeliveryOptions {
  /** How many events (each handled once). */
  count: number;
  /** Delays are spread evenly over [minDelayMs, maxDelayMs] and published in shuffled order. */
  minDelayMs: number;
  maxDelayMs: number;
  /** How long after the last event's time to wait for stragglers. */
  graceMs?: number;
  /** Publishes in flight at once (default 1: one after another). */
  publishConcurrency?: number;
}

export interface DelayedDeliveryReport {
  transport: string;
  count: number;
  /** Publish calls per second (each a scheduled event), `publishConcurrency` at a time. */
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
  contract: NumberedContract,
  group: string,
  options: DelayedDeliveryOptions,
): Promise<DelayedDeliveryReport> {
  const { count, minDelayMs, maxDelayMs } = options;
  const due = new Map<string, number>();
  // The first run of each event; `distinct` counts them as they come (a Set per check would be quadratic).
  const first = new Map<string, { at: number; attempt: number }>();
  const distinct = createSpy<number>();
  consumer.handle(contract, { group }, (event, ctx) => {
    if (first.has(event.id)) return;
    first.set(event.id, { at: Date.now(), attempt: ctx.attempt });
    distinct.fn(first.size);
  });
  await consumer.start();

  const delays = Array.from({ length: count }, (_, i) => (count === 1 ? minDelayMs : minDelayMs + ((maxDelayMs - minDelayMs) * i) / (count - 1)));
  // Shuffled, so a transport cannot pass by handing events out in publish order.
  for (let i = delays.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [delays[i], delays[j]] = [delays[j]!, delays[i]!];
  }
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < delays.length) {
      const n = next++;
      const deliverAt = Date.now() + Math.round(delays[n]!);
      const event = await publisher.publish(contract, { n }, { deliverAt });
      due.set(event.id, deliverAt);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.publishConcurrency ?? 1) }, lane));
  const publishMs = performance.now() - started;

  const waitMs = maxDelayMs + (options.graceMs ?? 30_000);
  await distinct.waitFor(() => first.size >= count, { timeoutMs: waitMs, description: `${count} delayed events handled` });
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
