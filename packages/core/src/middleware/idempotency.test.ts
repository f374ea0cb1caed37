import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../bus.js';
import { defineEvent } from '../contract.js';
import { MemoryTransport } from '../memory/memory-transport.js';
import { createSpy } from '../testing/spy.js';
import type { OutgoingMessage, PublishOptions } from '../transport.js';
import { MemoryIdempotencyStore } from '../coordination/memory-stores.js';
import type { IdempotencyStore } from '../coordination/stores.js';
import { sleep, startJobBus } from '../coordination/test-bus.js';
import { ConfigError, CoordinationUnavailableError } from '../errors.js';
import { idempotency } from './idempotency.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

describe('idempotency', () => {
  it('acks a duplicate of completed work without running the handler', async () => {
    const app = await startJobBus({ middleware: [idempotency({ ttl: 60_000 })] });
    stops.push(app.stop);
    await app.publish('k', 1, 'evt-1');
    await app.runs.waitForCount(1);
    await app.publish('k', 1, 'evt-1');
    await app.runs.expectNone(() => true, 200);
    expect(app.runs.count).toBe(1);
  });

  it('never runs a duplicate beside the running first copy', async () => {
    const app = await startJobBus({ middleware: [idempotency({ ttl: 60_000 })], handler: () => sleep(100) });
    stops.push(app.stop);
    await Promise.all([app.publish('k', 1, 'evt-2'), app.publish('k', 1, 'evt-2'), app.publish('k', 1, 'evt-2')]);
    await app.runs.waitForCount(1);
    await app.runs.expectNone(() => true, 300);
  });

  it('releases the claim when the handler fails, so the retry runs', async () => {
    let calls = 0;
    const app = await startJobBus({
      middleware: [idempotency({ ttl: 60_000 })],
      handler: async () => {
        if (++calls === 1) throw new Error('first attempt fails');
      },
    });
    stops.push(app.stop);
    await app.publish('k', 1, 'evt-3');
    const [run] = await app.runs.waitForCount(1);
    expect(run!.attempt).toBe(2);
    expect(calls).toBe(2);
  });

  it('scopes keys per group and can derive them from the event', async () => {
    const store = new MemoryIdempotencyStore();
    const app = await startJobBus({ middleware: [idempotency({ ttl: 60_000, store, key: (e) => `job-${(e.data as { n: number }).n}` })] });
    stops.push(app.stop);
    await app.publish('k', 7);
    await app.runs.waitForCount(1);
    await app.publish('k', 7); // another id, same derived key
    await app.runs.expectNone(() => true, 200);
    expect(await store.claim('jobs:job-7', 'someone', 1_000)).toBe('done');
    expect(await store.claim('other-group:job-7', 'someone', 1_000)).toBe('claimed');
  });

  it('runs a duplicate again once the ttl has passed', async () => {
    const app = await startJobBus({ middleware: [idempotency({ ttl: 50 })] });
    stops.push(app.stop);
    await app.publish('k', 1, 'evt-4');
    await app.runs.waitForCount(1);
    await sleep(80);
    await app.publish('k', 1, 'evt-4');
    await app.runs.waitForCount(2);
  });

  it('nacks without running while the store is unreachable', async () => {
    const memory = new MemoryIdempotencyStore();
    let failures = 2;
    const flaky: IdempotencyStore = {
      claim: async (...args) => {
        if (failures-- > 0) throw new CoordinationUnavailableError('Redis idempotency claim failed: connect ECONNREFUSED');
        return memory.claim(...args);
      },
      extend: (...args) => memory.extend(...args),
      complete: (...args) => memory.complete(...args),
      release: (...args) => memory.release(...args),
    };
    const app = await startJobBus({ middleware: [idempotency({ ttl: 60_000, store: flaky, unavailableDelay: 10 })], maxAttempts: 1 });
    stops.push(app.stop);
    await app.publish('k', 1, 'evt-5');
    const [run] = await app.runs.waitForCount(1);
    expect(run!.attempt).toBe(3);
  });

  it('publishes the held emits before recording completion; a failed flush records nothing, so the retry runs', async () => {
    const Paid = defineEvent({ type: 'idem.paid', description: 'Paid.', schema: z.object({ n: z.number() }) });
    const Receipt = defineEvent({ type: 'idem.receipt', description: 'Receipt.', schema: z.object({ n: z.number() }) });
    const steps = createSpy<string>();
    let refuse = 1;
    class RecordingTransport extends MemoryTransport {
      override async publish(messages: readonly OutgoingMessage[], options?: PublishOptions): Promise<void> {
        if (!messages.some((m) => m.channel === Receipt.channel)) return super.publish(messages, options);
        if (refuse-- > 0) {
          steps.fn('flush refused');
          throw new Error('broker refused');
        }
        steps.fn('receipt published');
        return super.publish(messages, options);
      }
    }
    const memory = new MemoryIdempotencyStore();
    const store: IdempotencyStore = {
      claim: (...args) => memory.claim(...args),
      extend: (...args) => memory.extend(...args),
      complete: (...args) => {
        steps.fn('completion recorded');
        return memory.complete(...args);
      },
      release: (...args) => memory.release(...args),
    };
    const bus = createEventBus({
      transport: new RecordingTransport({ broker: randomUUID() }),
      source: '/idempotency-unit',
      defaults: { backoff: { initialMs: 5, maxMs: 20 } },
    });
    stops.push(() => bus.stop());
    const receipts = createSpy<number>();
    bus.handle(Receipt, { group: 'watcher' }, (event) => receipts.fn(event.data.n));
    bus.handle(Paid, { group: 'billing', emits: [Receipt], middleware: [idempotency({ ttl: 60_000, store })] }, async (event, ctx) => {
      steps.fn(`handler ${ctx.attempt}`);
      await ctx.emit(Receipt, { n: event.data.n });
    });
    await bus.start();
    await bus.publish(Paid, { n: 9 });
    await receipts.waitForCount(1);
    expect(await steps.waitForCount(5)).toEqual(['handler 1', 'flush refused', 'handler 2', 'receipt published', 'completion recorded']);
    await receipts.expectNone(() => true, 100);
  });

  it('requires a ttl', () => {
    expect(() => idempotency({} as never)).toThrow(ConfigError);
    expect(() => idempotency({} as never)).toThrow(/idempotency\.ttl/);
  });
});
