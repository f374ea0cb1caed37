import { expect } from 'vitest';
import { encodeEvent } from '../../codec.js';
import { createEnvelope } from '../../envelope.js';
import { MessageTooLargeError } from '../../errors.js';
import type { Delivery } from '../../transport.js';
import { createSpy } from '../spy.js';
import { ids, missing, provisionGroup } from './harness.js';
import { check, type Scenario } from './scenario.js';

export const lifecycleScenarios: Scenario[] = [
  {
    name: 'close-one-subscription',
    title: 'closing one subscription leaves the others running',
    async run(h) {
      const contract = h.contract('close-one');
      const group = h.group();
      const other = h.group();
      const spies = [createSpy<string>(), createSpy<string>(), createSpy<string>()];
      const buses = [];
      for (const [i, g] of [group, group, other].entries()) {
        const bus = await h.bus();
        bus.handle(contract, { group: g }, (e) => spies[i]!.fn(e.id));
        await bus.start();
        buses.push(bus);
      }
      await buses[0]!.stop();
      const closedCount = spies[0]!.count;
      const publisher = await h.bus();
      const sent = ids(await publisher.publishBatch(Array.from({ length: 30 }, (_, n) => ({ contract, data: { n } }))));
      const sameGroup = await spies[1]!.waitFor((c) => new Set(c).size >= 30, { description: 'the remaining member: 30' });
      const otherGroup = await spies[2]!.waitFor((c) => new Set(c).size >= 30, { description: 'the other group: 30' });
      expect(missing(sent, new Set(sameGroup))).toEqual([]);
      expect(missing(sent, new Set(otherGroup))).toEqual([]);
      expect(spies[0]!.count).toBe(closedCount);
    },
  },
  {
    name: 'graceful-close',
    title: 'stop() with handlers in flight: they finish and settle, nothing is lost',
    async run(h) {
      const contract = h.contract('graceful');
      const group = h.group();
      await provisionGroup(h, group, [contract.channel]);
      const started = createSpy<string>();
      const finished: { id: string; at: number }[] = [];
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const first = await h.bus();
      first.handle(contract, { group, concurrency: 4 }, async (event) => {
        started.fn(event.id);
        await gate;
        finished.push({ id: event.id, at: Date.now() });
      });
      await first.start();
      const publisher = await h.bus();
      const sent = ids(await publisher.publishBatch(Array.from({ length: 12 }, (_, n) => ({ contract, data: { n } }))));
      await started.waitForCount(4, { description: '4 handlers in flight' });
      const stopping = first.stop().then(() => Date.now());
      setTimeout(release, 200);
      const stoppedAt = await stopping;
      expect(finished.length, 'every in-flight handler finished').toBe(started.count);
      expect(finished.every((f) => f.at <= stoppedAt)).toBe(true);
      const done = new Set(finished.map((f) => f.id));
      const second = createSpy<string>();
      const next = await h.bus();
      next.handle(contract, { group }, (e) => second.fn(e.id));
      await next.start();
      const rest = [...sent].filter((id) => !done.has(id));
      const seen = await second.waitFor((c) => rest.every((id) => c.includes(id)), {
        description: `the ${rest.length} events not handled before stop`,
      });
      expect(seen.filter((id) => done.has(id)), 'events acked before stop came back').toEqual([]);
    },
  },
  {
    name: 'publisher-flush',
    title: 'closing a publisher flushes what it accepted',
    async run(h) {
      const contract = h.contract('flush');
      const group = h.group();
      await provisionGroup(h, group, [contract.channel]);
      const publisher = await h.bus();
      const pending = Array.from({ length: 200 }, (_, n) => publisher.publish(contract, { n }));
      const stopped = publisher.stop();
      const results = await Promise.allSettled(pending);
      await stopped;
      const accepted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
      expect(accepted.length, 'publishes started before close resolve').toBe(200);
      const spy = createSpy<string>();
      const bus = await h.bus();
      bus.handle(contract, { group }, (e) => spy.fn(e.id));
      await bus.start();
      const seen = await spy.waitFor((c) => new Set(c).size >= 200, { description: '200 flushed events' });
      expect(missing(accepted, new Set(seen))).toEqual([]);
    },
  },
  {
    name: 'close-idempotent',
    title: 'close() and stop() may be called twice, at once or later',
    async run(h) {
      const contract = h.contract('idem');
      const transport = await h.transport();
      const sub = await transport.subscribe({ group: h.group(), channels: [contract.channel], prefetch: 1 }, (d) => d.ack());
      await Promise.all([sub.close(), sub.close()]);
      await sub.close();
      const bus = await h.bus();
      bus.handle(contract, { group: h.group() }, () => {});
      await bus.start();
      await Promise.all([bus.stop(), bus.stop()]);
      await bus.stop();
      await Promise.all([transport.close(), transport.close()]);
      await transport.close();
    },
  },
  {
    name: 'prefetch-bound',
    title: 'never more unsettled deliveries than prefetch',
    async run(h) {
      const contract = h.contract('prefetch');
      const group = h.group();
      const transport = await h.transport();
      let outstanding = 0;
      let peak = 0;
      const seen = createSpy<string>();
      const sub = await transport.subscribe({ group, channels: [contract.channel], prefetch: 3 }, (delivery: Delivery) => {
        outstanding++;
        peak = Math.max(peak, outstanding);
        seen.fn(String(delivery.attempt));
        setTimeout(() => {
          outstanding--;
          void delivery.ack();
        }, 5);
      });
      h.onCleanup(() => sub.close());
      const publisher = await h.bus();
      await publisher.publishBatch(Array.from({ length: 40 }, (_, n) => ({ contract, data: { n } })));
      await seen.waitForCount(40);
      expect(peak).toBeLessThanOrEqual(3);
      expect(peak, 'prefetch 3 should allow more than one at a time').toBeGreaterThan(1);
    },
  },
  {
    name: 'odd-headers',
    title: 'unicode, many and empty header values survive the round trip',
    async run(h) {
      const contract = h.contract('headers');
      const group = h.group();
      const transport = await h.transport();
      const received = createSpy<Record<string, string>>();
      const sub = await transport.subscribe({ group, channels: [contract.channel], prefetch: 5 }, async (d) => {
        received.fn(d.message.headers);
        await d.ack();
      });
      h.onCleanup(() => sub.close());
      const event = createEnvelope(contract.type, 1, '/conformance', { n: 1 });
      const encoded = encodeEvent(event, transport.capabilities.encoding);
      const extra: Record<string, string> = { 'x-unicode': 'héllo ✓ 日本 🚀', 'x-empty': '' };
      for (let i = 0; i < 20; i++) extra[`x-many-${i}`] = `value-${i}`;
      await transport.publish([{ channel: contract.channel, id: event.id, headers: { ...encoded.headers, ...extra }, body: encoded.body }]);
      const [headers] = await received.waitForCount(1);
      check(headers, 'no delivery');
      expect(headers).toMatchObject(extra);
    },
  },
  {
    name: 'max-size',
    title: 'a message at the size limit round-trips; a larger one is refused with a clear error',
    async run(h) {
      const contract = h.contract('size');
      const group = h.group();
      const probe = await h.transport();
      const limit = Math.min(probe.capabilities.maxMessageBytes, 1024 * 1024);
      const bus = await h.bus({ maxMessageBytes: limit });
      const spy = createSpy<number>();
      bus.handle(contract, { group }, (e) => spy.fn(e.data.pad?.length ?? 0));
      await bus.start();
      const publisher = await h.bus({ maxMessageBytes: limit });
      // Find the largest pad that fits: the envelope's own headers take a few hundred bytes.
      let pad = limit - 2048;
      await publisher.publish(contract, { n: 1, pad: 'x'.repeat(pad) });
      const [size] = await spy.waitForCount(1, { timeoutMs: 30_000 });
      expect(size).toBe(pad);
      pad = limit + 1;
      await expect(publisher.publish(contract, { n: 2, pad: 'x'.repeat(pad) })).rejects.toThrow(MessageTooLargeError);
      await expect(publisher.publish(contract, { n: 2, pad: 'x'.repeat(pad) })).rejects.toThrow(/limit is \d+ bytes/);
      const raw = new Uint8Array(probe.capabilities.maxMessageBytes + 1);
      if (probe.capabilities.maxMessageBytes <= 16 * 1024 * 1024) {
        await expect(
          probe.publish([{ channel: contract.channel, id: 'too-big', headers: {}, body: raw }]),
          'the transport itself refuses an oversized message',
        ).rejects.toThrow(MessageTooLargeError);
      }
    },
  },
];
