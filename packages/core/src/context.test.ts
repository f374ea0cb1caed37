import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, type EventBus } from './bus.js';
import { defineEvent } from './contract.js';
import { MemoryTransport } from './memory/transport.js';
import { type Middleware, watchHandBack } from './context.js';
import { createSpy } from './testing/spy.js';
import type { Delivery } from './transport.js';

const Pinged = defineEvent({ type: 'ping.sent', description: 'A ping.', schema: z.object({ n: z.number() }) });
const Ponged = defineEvent({ type: 'pong.sent', description: 'A pong.', schema: z.object({ n: z.number() }) });

let n = 0;
const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.stop()));
});

/** A bus whose transport records every settle call its deliveries receive. */
function recordingBus(middleware: Middleware[]) {
  const transport = new MemoryTransport({ broker: `context-${process.pid}-${++n}` });
  const settles = createSpy<string>();
  const subscribe = transport.subscribe.bind(transport);
  transport.subscribe = (options, onDelivery) =>
    subscribe(options, (d) => {
      const recorded: Delivery = {
        message: d.message,
        attempt: d.attempt,
        ack: () => {
          settles.fn('ack');
          return d.ack();
        },
        nack: (o) => {
          settles.fn('nack');
          return d.nack(o);
        },
        deadLetter: (r) => {
          settles.fn('dead-letter');
          return d.deadLetter(r);
        },
        defer: (t, h) => {
          settles.fn('defer');
          return d.defer(t, h);
        },
      };
      return onDelivery(recorded);
    });
  const bus = createEventBus({ transport, source: '/test', middleware });
  buses.push(bus);
  return { bus, settles };
}

// Middleware commonly hands the handler a view of the context made with Object.create (tracing and
// idempotency do); settling through such a view must settle the delivery, once.
const wrapping: Middleware = (next) => (ctx) => next(Object.create(ctx));

describe('the delivery context behind a middleware view', () => {
  it('settles once when the handler acks through the view', async () => {
    const { bus, settles } = recordingBus([wrapping]);
    const handled = createSpy<number>();
    bus.handle(Pinged, { group: 'g', concurrency: 1 }, async (event, ctx) => {
      await ctx.ack();
      expect(ctx.settled).toBe(true);
      handled.fn(event.data.n);
    });
    await bus.start();
    await bus.publish(Pinged, { n: 1 });
    await bus.publish(Pinged, { n: 2 });
    await handled.waitForCount(2, { timeoutMs: 2000 });
    await bus.stop();
    expect(settles.calls).toEqual(['ack', 'ack']);
  });

  it('tells how it was settled, through any view, and watchHandBack reads it without a view of its own', async () => {
    const seen = createSpy<[number, number, string | undefined, boolean, boolean]>();
    const watching: Middleware = (next) => async (ctx) => {
      const watch = watchHandBack(ctx);
      await next(watch.ctx);
      seen.fn([(ctx.event.data as { n: number }).n, ctx.attempt, ctx.settledAs, watch.handedBack(), watch.ctx === ctx]);
    };
    const { bus } = recordingBus([watching, wrapping]);
    bus.handle(Pinged, { group: 'g', concurrency: 1 }, async (event, ctx) => {
      if (event.data.n === 1) await ctx.ack();
      if (event.data.n === 2 && ctx.attempt === 1) await ctx.nack();
      if (event.data.n === 3) await ctx.deadLetter('refused');
    });
    await bus.start();
    for (const n of [1, 2, 3, 4]) await bus.publish(Pinged, { n });
    const calls = await seen.waitForCount(5, { timeoutMs: 5000 });
    // n=4 and n=2's second attempt return unsettled: the pipeline acks them after the chain.
    expect(calls.sort((a, b) => a[0] - b[0] || a[1] - b[1])).toEqual([
      [1, 1, 'ack', false, true],
      [2, 1, 'nack', true, true],
      [2, 2, undefined, false, true],
      [3, 1, 'dead-letter', true, true],
      [4, 1, undefined, false, true],
    ]);
  });

  it('aborts the signal the handler holds, whichever view aborted it', async () => {
    const aborting: Middleware = (next) => async (ctx) => {
      const view = Object.create(ctx) as typeof ctx;
      const running = next(view);
      ctx.abort(new Error('stop'));
      await running;
    };
    const { bus } = recordingBus([aborting]);
    const reasons = createSpy<string>();
    bus.handle(Pinged, { group: 'g' }, async (_event, ctx) => {
      const { signal } = ctx;
      await new Promise((resolve) => setImmediate(resolve));
      reasons.fn(signal.aborted ? String((signal.reason as Error).message) : 'not aborted');
    });
    await bus.start();
    await bus.publish(Pinged, { n: 1 });
    expect(await reasons.waitForCount(1, { timeoutMs: 2000 })).toEqual(['stop']);
  });

  it('lets a handler destructure emit, and chains the emitted event to the delivery', async () => {
    const { bus } = recordingBus([wrapping]);
    const pongs = createSpy<{ causation?: string; correlation?: string }>();
    const pinged = createSpy<string>();
    bus.handle(Pinged, { group: 'g', emits: [Ponged] }, async (event, { emit }) => {
      pinged.fn(event.id);
      await emit(Ponged, { n: event.data.n });
    });
    bus.handle(Ponged, { group: 'h' }, (event) => {
      pongs.fn({ causation: event.causationid, correlation: event.correlationid });
    });
    await bus.start();
    const sent = await bus.publish(Pinged, { n: 1 });
    const [pong] = await pongs.waitForCount(1, { timeoutMs: 2000 });
    expect(pong).toEqual({ causation: sent.id, correlation: sent.id });
  });

  it('keeps one emit hold for the context and every view of it, open only while the attempt runs', async () => {
    const sizes = createSpy<[number, number]>();
    const counting: Middleware = (next) => async (ctx) => {
      const view = Object.create(ctx) as typeof ctx;
      await next(view);
      // Inside the hold, before its flush: the emit made through the handler's view is held here too.
      if (ctx.event.type === Pinged.type) sizes.fn([ctx.emits.size, view.emits.size]);
    };
    const { bus } = recordingBus([counting, wrapping]);
    const pongs = createSpy<number>();
    const late = createSpy<string>();
    bus.handle(Pinged, { group: 'g', emits: [Ponged] }, async (event, ctx) => {
      await ctx.emit(Ponged, { n: event.data.n });
      setImmediate(() => ctx.emit(Ponged, { n: -1 }).catch((e: Error) => late.fn(e.message)));
    });
    bus.handle(Ponged, { group: 'h' }, (event) => pongs.fn(event.data.n));
    await bus.start();
    await bus.publish(Pinged, { n: 7 });
    expect(await pongs.waitForCount(1, { timeoutMs: 2000 })).toEqual([7]);
    expect(sizes.calls).toEqual([[1, 1]]);
    expect((await late.waitForCount(1, { timeoutMs: 2000 }))[0]).toMatch(/emitted after the handler's attempt ended/);
  });
});
