// Helpers for the coordination middleware's unit tests: a bus on a private memory broker whose
// handler records when each run started and ended. Not exported from the package.
import { z } from 'zod';
import { createEventBus, type EventBus } from '../bus.js';
import { defineEvent } from '../contract.js';
import type { HandlerContext } from '../handler.js';
import { MemoryTransport } from '../memory/memory-transport.js';
import { RATE_LIMIT_STARTED_AT } from '../middleware/rate-limit.js';
import type { Middleware } from '../context.js';
import { createSpy } from '../testing/spy.js';

export const Job = defineEvent({
  type: 'coordination.job',
  description: 'A job in the coordination unit tests.',
  channel: 'coordination-jobs',
  schema: z.object({ key: z.string(), n: z.number().int() }),
});

export interface JobRun {
  id: string;
  key: string;
  n: number;
  attempt: number;
  start: number;
  end: number;
  /** When the rate limiter admitted the start, on its store's clock (absent without one). */
  admittedAt?: number;
}

let counter = 0;

export async function startJobBus(options: {
  middleware: Middleware[];
  concurrency?: number;
  maxAttempts?: number;
  timeout?: number;
  handler?: (data: { key: string; n: number }, ctx: HandlerContext) => Promise<void>;
}) {
  const runs = createSpy<JobRun>();
  const transport = new MemoryTransport({ broker: `coordination-unit-${process.pid}-${++counter}` });
  const bus: EventBus = createEventBus({
    transport,
    source: '/coordination-unit',
    defaults: { backoff: { initialMs: 5, maxMs: 20 }, concurrency: options.concurrency ?? 10, maxAttempts: options.maxAttempts ?? 5 },
  });
  bus.handle(
    Job,
    { group: 'jobs', middleware: options.middleware, ...(options.timeout ? { timeout: options.timeout } : {}) },
    async (event, ctx) => {
      const start = Date.now();
      await (options.handler ?? (() => sleep(5)))(event.data, ctx);
      const admittedAt = ctx.state.get(RATE_LIMIT_STARTED_AT) as number | undefined;
      runs.fn({ id: event.id, key: event.data.key, n: event.data.n, attempt: ctx.attempt, start, end: Date.now(), ...(admittedAt ? { admittedAt } : {}) });
    },
  );
  await bus.start();
  return {
    bus,
    runs,
    publish: (key: string, n: number, id?: string) => bus.publish(Job, { key, n }, id ? { id } : {}),
    stop: () => bus.stop(),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The largest number of runs [start, end) open at one instant. */
export function peakOverlap(runs: readonly { start: number; end: number }[]): number {
  const points = runs.flatMap((r) => [
    { t: r.start, d: 1 },
    { t: r.end, d: -1 },
  ]);
  points.sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let peak = 0;
  for (const p of points) {
    open += p.d;
    peak = Math.max(peak, open);
  }
  return peak;
}
