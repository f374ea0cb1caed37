import { expect } from 'vitest';
import { decodeEvent, encodeEvent } from '../../codec.js';
import { createEnvelope } from '../../envelope.js';
import { messageSize } from '../../headers.js';
import type { Subscription } from '../../transport.js';
import { createSpy } from '../spy.js';
import { ids, missing, readDeadLetters } from './harness.js';
import { check, type Scenario, type ScenarioEnv } from './scenario.js';

function breakSettleHook(env: ScenarioEnv) {
  const hook = env.options.breakSettle;
  if (!hook) env.skip('no breakSettle hook: this transport has no broker path that a settle could be refused on');
  return hook;
}

/** Resolves with close()'s outcome, or rejects when it hangs past `ms` (a delivery stranded holding prefetch). */
async function closesWithin(subscription: Subscription, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      subscription.close(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`close() did not finish within ${ms} ms: a delivery is stranded`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const edgeScenarios: Scenario[] = [
  {
    name: 'settle-failure-dead-letter',
    title: 'a dead-letter the broker refuses is reported and redelivered, and reaches the dead-letter destination once repaired',
    slow: true,
    async run(h, env) {
      const breakSettle = breakSettleHook(env);
      const contract = h.contract('settle-dl');
      const group = h.group();
      const transport = await h.transport();
      const errors = createSpy<Error>();
      const deliveries = createSpy<number>();
      const sub = await transport.subscribe({ group, channels: [contract.channel], prefetch: 5, onError: errors.fn }, async (d) => {
        deliveries.fn(d.attempt);
        await d.deadLetter('conformance: poison on purpose');
      });
      h.onCleanup(() => sub.close());
      const repair = await breakSettle('dead-letter', group);
      let repaired = false;
      h.onCleanup(() => (repaired ? undefined : repair()));
      const publisher = await h.bus();
      const sent = await publisher.publish(contract, { n: 1, text: 'must not be lost' });
      await errors.waitForCount(1, { timeoutMs: 30_000, description: 'onError reporting the refused dead-letter' });
      await deliveries.waitForCount(2, { timeoutMs: 30_000, description: 'the delivery coming back after the refused dead-letter' });
      await repair();
      repaired = true;
      const { transport: reader, letters } = await readDeadLetters(h, group, [contract.channel]);
      const [letter] = await letters.waitForCount(1, { timeoutMs: 60_000, description: 'the dead letter after the repair' });
      check(letter, 'no dead letter');
      expect(decodeEvent(letter, reader.capabilities.encoding)).toMatchObject({ id: sent.id, data: { n: 1, text: 'must not be lost' } });
    },
  },
  {
    name: 'settle-failure-delayed-nack',
    title: 'a delayed nack the broker cannot arrange falls back to a plain redelivery; close() does not hang',
    slow: true,
    async run(h, env) {
      const breakSettle = breakSettleHook(env);
      const contract = h.contract('settle-nack');
      const group = h.group();
      const transport = await h.transport();
      const errors = createSpy<Error>();
      const deliveries = createSpy<number>();
      // prefetch 1: a delivery stranded by the failed nack would block every later one.
      const sub = await transport.subscribe({ group, channels: [contract.channel], prefetch: 1, onError: errors.fn }, async (d) => {
        deliveries.fn(d.attempt);
        if (deliveries.count === 1) await d.nack({ delayMs: 2_000 });
        else await d.ack();
      });
      const repair = await breakSettle('delayed-nack', group);
      h.onCleanup(repair);
      const publisher = await h.bus();
      await publisher.publish(contract, { n: 1 });
      await deliveries.waitForCount(2, { timeoutMs: 30_000, description: 'the message delivered again after the refused delayed nack' });
      await errors.waitForCount(1, { timeoutMs: 10_000, description: 'onError reporting the refused delayed nack' });
      await closesWithin(sub, 15_000);
    },
  },
  {
    name: 'oversized-dead-letter',
    title: 'a message just under the size limit is dead-lettered intact although the dead-letter headers push it over',
    slow: true,
    async run(h) {
      const contract = h.contract('big-dl');
      const group = h.group();
      const transport = await h.transport();
      // Up to 4 MB: above that the scenario still runs, the copy then only approaches the limit.
      const limit = Math.min(transport.capabilities.maxMessageBytes, 4 * 1024 * 1024);
      const base = createEnvelope(contract.type, 1, '/conformance', { n: 1, pad: '' });
      const baseSize = messageSize(encodeEvent(base, transport.capabilities.encoding));
      const pad = 'x'.repeat(limit - 64 - baseSize);
      const event = { ...base, data: { n: 1, pad } };
      const encoded = encodeEvent(event, transport.capabilities.encoding);
      check(messageSize(encoded) <= limit, `the test message (${messageSize(encoded)} bytes) must fit the limit ${limit}`);
      const handled = createSpy<number>();
      const sub = await transport.subscribe({ group, channels: [contract.channel], prefetch: 1 }, async (d) => {
        handled.fn(d.attempt);
        await d.deadLetter(`conformance: oversized poison ${'r'.repeat(200)}`);
      });
      h.onCleanup(() => sub.close());
      const publisher = await h.transport();
      await publisher.publish([{ channel: contract.channel, id: event.id, headers: encoded.headers, body: encoded.body }]);
      const { transport: reader, letters } = await readDeadLetters(h, group, [contract.channel]);
      const [letter] = await letters.waitForCount(1, { timeoutMs: 60_000, description: 'the oversized dead letter' });
      check(letter, 'no dead letter');
      const original = decodeEvent(letter, reader.capabilities.encoding);
      expect(original.id).toBe(event.id);
      expect((original.data as { pad: string }).pad.length, 'the body arrives whole').toBe(pad.length);
      await handled.expectNone((attempt) => attempt > 1, 500);
    },
  },
  {
    name: 'publish-no-group',
    title: 'a publish to a channel no group subscribed to or provisioned: rejected naming the channel, or kept for the first group',
    async run(h) {
      const contract = h.contract('no-group');
      const publisher = await h.bus();
      const { unroutedPublish } = publisher.transport.capabilities;
      if (unroutedPublish === 'rejected') {
        const error = await publisher.publish(contract, { n: 1 }).then(
          () => undefined,
          (e: unknown) => e as Error & { channel?: string },
        );
        check(error, 'the publish resolved although no group receives the channel');
        expect(error.name).toBe('UnroutableError');
        expect(error.channel).toBe(contract.channel);
        expect(error.message).toContain(`"${contract.channel}"`);
        return;
      }
      expect(unroutedPublish).toBe('kept');
      const sent = ids(await publisher.publishBatch([0, 1, 2].map((n) => ({ contract, data: { n } }))));
      const seen = createSpy<string>();
      const bus = await h.bus();
      bus.handle(contract, { group: h.group() }, (e) => seen.fn(e.id));
      await bus.start();
      const got = await seen.waitFor((c) => missing(sent, new Set(c)).length === 0, { timeoutMs: 30_000, description: 'the 3 kept events' });
      expect(missing(sent, new Set(got))).toEqual([]);
    },
  },
  {
    name: 'provision-before-publish',
    title: 'provision() declares a group without consuming: what is published next is received when it subscribes',
    async run(h) {
      const contract = h.contract('provision');
      const group = h.group();
      const admin = await h.transport();
      await admin.provision([{ group, channels: [contract.channel] }]);
      await admin.provision([{ group, channels: [contract.channel] }]);
      const publisher = await h.bus();
      const sent = ids(await publisher.publishBatch([0, 1, 2, 3, 4].map((n) => ({ contract, data: { n } }))));
      const seen = createSpy<string>();
      const bus = await h.bus();
      bus.handle(contract, { group }, (e) => seen.fn(e.id));
      await bus.start();
      const got = await seen.waitFor((c) => missing(sent, new Set(c)).length === 0, { timeoutMs: 30_000, description: 'the 5 events' });
      expect(missing(sent, new Set(got))).toEqual([]);
    },
  },
];
