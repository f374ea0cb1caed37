// Scheduled delivery at volume on RabbitMQ (decision 0009): COUNT events scheduled over a spread,
// published in batches, two groups; how late each group runs them, and how many hops (deliveries
// the receive check deferred) each event cost. Not a test: run by hand, against a quiet broker,
//   EVENTBUS_RABBITMQ_URL=amqp://… npx tsx --conditions=@org/source packages/adapter-rabbitmq/test/measure-delays.ts [count] [minMs] [maxMs]
import { randomUUID } from 'node:crypto';
import { createEventBus, type DeliveryHandler, defineEvent, entry, type SubscribeOptions, type Subscription, silentLogger } from '@org/eventbus';
import { createSpy } from '@org/eventbus/testing';
import { z } from 'zod';
import { deleteTopology, RabbitMqTransport } from '../src/index.js';

const url = process.env.EVENTBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const [count, minMs, maxMs] = [Number(process.argv[2] ?? 2_000), Number(process.argv[3] ?? 3_000), Number(process.argv[4] ?? 6_000)];
const exchange = `measure-delays-${randomUUID().slice(0, 8)}`;
const groups = ['first', 'second'];

/** Counts every delivery the broker hands a group, the deferred hops included. */
class CountingTransport extends RabbitMqTransport {
  readonly deliveries = new Map<string, number>();
  override subscribe(options: SubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription> {
    return super.subscribe(options, (d) => {
      this.deliveries.set(options.group, (this.deliveries.get(options.group) ?? 0) + 1);
      return onDelivery(d);
    });
  }
}

const Scheduled = defineEvent({ type: 'measure.scheduled', version: 1, description: 'measured', schema: z.object({ n: z.number() }) });

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function main(): Promise<void> {
  const consumerTransport = new CountingTransport({ url, exchange, logger: silentLogger });
  const consumer = createEventBus({ transport: consumerTransport, source: '/measure', logger: silentLogger });
  const publisher = createEventBus({ transport: new RabbitMqTransport({ url, exchange, logger: silentLogger }), source: '/measure', logger: silentLogger });
  const due = new Map<string, number>();
  const handled = new Map(groups.map((g) => [g, createSpy<{ id: string; at: number; attempt: number }>()]));
  for (const group of groups) {
    consumer.handle(Scheduled, { group, concurrency: 100 }, (event, ctx) => handled.get(group)!.fn({ id: event.id, at: Date.now(), attempt: ctx.attempt }));
  }
  await consumer.start();
  try {
    const started = performance.now();
    for (let from = 0; from < count; from += 100) {
      const batch = Array.from({ length: Math.min(100, count - from) }, (_, i) => {
        const deliverAt = Date.now() + Math.round(minMs + Math.random() * (maxMs - minMs));
        return { deliverAt, entry: entry(Scheduled, { n: from + i }, { deliverAt }) };
      });
      const events = await publisher.publishBatch(batch.map((b) => b.entry));
      for (const [i, event] of events.entries()) due.set(event.id, batch[i]!.deliverAt);
    }
    const publishMs = performance.now() - started;
    console.log(`${count} scheduled events over ${minMs}-${maxMs} ms, published in batches of 100 at ${Math.round((count / publishMs) * 1000)}/s`);
    for (const group of groups) {
      const spy = handled.get(group)!;
      await spy.waitForCount(count, { timeoutMs: maxMs + 120_000, description: `${count} events in ${group}` });
      const lateness = spy.calls.map((c) => c.at - due.get(c.id)!).sort((a, b) => a - b);
      const hops = (consumerTransport.deliveries.get(group) ?? 0) / count - 1;
      const attempts = [...new Set(spy.calls.map((c) => c.attempt))];
      console.log(
        `${group}: lateness p50 ${percentile(lateness, 50)} ms, p99 ${percentile(lateness, 99)} ms, max ${lateness.at(-1)} ms, min ${lateness[0]} ms; ${hops.toFixed(1)} hops per event; attempts ${attempts.join(',')}`,
      );
    }
  } finally {
    await Promise.all([consumer.stop(), publisher.stop()]);
    await deleteTopology(url, { exchange, groups });
  }
}

await main();
