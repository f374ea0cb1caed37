import { expect } from 'vitest';
import type { CloudEvent } from '../../envelope.js';
import { createSpy } from '../spy.js';
import type { Harness, PayloadContract } from './harness.js';
import { check, type Scenario } from './scenario.js';

/** A promise the test opens when it is ready: the handler waits on it, so "before the handler ends" is observable. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** A bus in its own group that records every event of `contract` it receives. */
async function watch(h: Harness, contract: PayloadContract) {
  const seen = createSpy<CloudEvent>();
  const bus = await h.bus();
  bus.handle(contract, { group: h.group() }, (event) => seen.fn(event));
  await bus.start();
  return seen;
}

export const emitScenarios: Scenario[] = [
  {
    name: 'emit-after-success',
    title: "ctx.emit is held until the handler succeeds (a failed attempt emits nothing, the success once); emit: 'immediate' sends at the call",
    async run(h) {
      const trigger = h.contract('emit-trigger');
      const emitted = h.contract('emit-out');
      const seen = await watch(h, emitted);
      const attempts = createSpy<number>();
      const retryMayFinish = gate();
      const bus = await h.bus();
      bus.handle(trigger, { group: h.group(), emits: [emitted], maxAttempts: 3 }, async (event, ctx) => {
        await ctx.emit(emitted, { n: event.data.n, text: `attempt ${ctx.attempt}` });
        attempts.fn(ctx.attempt);
        if (ctx.attempt === 1) throw new Error('fails after emitting');
        await retryMayFinish.wait;
      });
      await bus.start();
      const publisher = await h.bus();
      await publisher.publish(trigger, { n: 1 });
      await attempts.waitForCount(2, { timeoutMs: 30_000, description: 'the retry running' });
      // The failed attempt's emit was dropped, and the retry's is held while the retry runs.
      await seen.expectNone(() => true, 1_000);
      retryMayFinish.open();
      const [out] = await seen.waitForCount(1, { timeoutMs: 30_000, description: 'the emit of the successful retry' });
      check(out, 'no emitted event');
      expect(out.data).toEqual({ n: 1, text: 'attempt 2' });
      await seen.expectNone(() => true, 1_000);
      expect(seen.count, 'emitted exactly once').toBe(1);

      // emit: 'immediate' — the event leaves while the handler is still running.
      const trigger2 = h.contract('emit-trigger-now');
      const emitted2 = h.contract('emit-out-now');
      const seenNow = await watch(h, emitted2);
      const handlerMayEnd = gate();
      const ended = createSpy<number>();
      const nowBus = await h.bus();
      nowBus.handle(trigger2, { group: h.group(), emits: [emitted2], emit: 'immediate' }, async (event, ctx) => {
        await ctx.emit(emitted2, { n: event.data.n });
        await handlerMayEnd.wait;
        ended.fn(event.data.n);
      });
      await nowBus.start();
      await publisher.publish(trigger2, { n: 2 });
      try {
        await seenNow.waitForCount(1, { timeoutMs: 30_000, description: 'the immediate emit while its handler still runs' });
        expect(ended.count, 'the handler had not ended').toBe(0);
      } finally {
        handlerMayEnd.open();
      }
      await ended.waitForCount(1, { timeoutMs: 30_000 });
    },
  },
];
