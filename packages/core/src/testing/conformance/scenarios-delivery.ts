import { expect } from 'vitest';
import type { CloudEvent } from '../../envelope.js';
import { createSpy } from '../spy.js';
import { type Harness, ids, missing, type Payload, provisionGroup, SeenIds, scaled } from './harness.js';
import { check, type Scenario } from './scenario.js';

type Seen = CloudEvent<Payload> & { consumer?: number };

async function consumer(h: Harness, contract: ReturnType<Harness['contract']>, group: string, concurrency = 10) {
  const spy = createSpy<Seen>();
  const bus = await h.bus();
  bus.handle(contract, { group, concurrency }, (event) => spy.fn(event));
  await bus.start();
  return { bus, spy };
}

export const deliveryScenarios: Scenario[] = [
  {
    name: 'publish-before-subscribe',
    title: 'events published while the group is offline, by a bus that never called connect(), arrive intact (data, extensions, key)',
    async run(h) {
      const contract = h.contract('pbs');
      const group = h.group();
      await provisionGroup(h, group, [contract.channel]);
      // A publish-only bus never calls start(): its transport must connect on the first publish.
      const publisher = await h.bus({ connect: false });
      const sent = await publisher.publishBatch(
        Array.from({ length: 100 }, (_, n) => ({
          contract,
          data: { n, text: `événement ${n} ✓ 日本` },
          options: {
            key: `key-${n % 7}`,
            subject: `subject/${n}`,
            correlationId: `corr-${n}`,
            causationId: `cause-${n}`,
            traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
            tracestate: 'vendor=value',
          },
        })),
      );
      const { spy } = await consumer(h, contract, group);
      const seen = await spy.waitFor((calls) => ids(calls).size >= 100, { description: '100 events' });
      const byId = new Map(seen.map((e) => [e.id, e]));
      for (const event of sent) {
        const got = byId.get(event.id);
        check(got, `event ${event.id} never arrived`);
        expect({ ...got, time: got.time }).toMatchObject({
          type: event.type,
          source: event.source,
          specversion: '1.0',
          data: event.data,
          subject: event.subject,
          correlationid: event.correlationid,
          causationid: event.causationid,
          traceparent: event.traceparent,
          tracestate: event.tracestate,
          partitionkey: event.partitionkey,
        });
        expect(new Date(got.time).getTime()).toBe(new Date(event.time).getTime());
      }
    },
  },
  {
    name: 'competing-consumers',
    title: '20 publishers × 250 events, 5 competing consumers: all arrive, the work is shared',
    slow: true,
    async run(h, env) {
      const perPublisher = scaled(250, env.options.scale);
      const contract = h.contract('compete');
      const group = h.group();
      await provisionGroup(h, group, [contract.channel]);
      const all = new SeenIds();
      const perConsumer = [0, 0, 0, 0, 0];
      for (let c = 0; c < 5; c++) {
        const bus = await h.bus();
        bus.handle(contract, { group, concurrency: 10 }, (event) => {
          perConsumer[c]!++;
          all.add(event.id);
        });
        await bus.start();
      }
      const publishers = await Promise.all(Array.from({ length: 4 }, () => h.bus()));
      const sent = new Set<string>();
      await Promise.all(
        Array.from({ length: 20 }, async (_, p) => {
          const bus = publishers[p % publishers.length]!;
          for (let i = 0; i < perPublisher; i += 25) {
            const batch = Array.from({ length: Math.min(25, perPublisher - i) }, (_, j) => ({
              contract,
              data: { n: p * 100_000 + i + j },
            }));
            for (const e of await bus.publishBatch(batch)) sent.add(e.id);
          }
        }),
      );
      const total = 20 * perPublisher;
      await all.waitForAll(sent, { timeoutMs: 120_000, description: `${total} events` });
      expect(missing(sent, all.seen)).toEqual([]);
      expect(perConsumer.filter((n) => n > 0).length, `work per consumer: ${perConsumer.join(', ')}`).toBeGreaterThanOrEqual(2);
    },
  },
  {
    name: 'fan-out',
    title: 'two groups both get every event',
    async run(h) {
      const contract = h.contract('fan');
      const [g1, g2] = [h.group(), h.group()];
      const a = await consumer(h, contract, g1);
      const b = await consumer(h, contract, g2);
      const publisher = await h.bus();
      const sent = await publisher.publishBatch(Array.from({ length: 50 }, (_, n) => ({ contract, data: { n } })));
      const want = ids(sent);
      const [seenA, seenB] = await Promise.all([
        a.spy.waitFor((c) => ids(c).size >= 50, { description: 'group 1: 50 events' }),
        b.spy.waitFor((c) => ids(c).size >= 50, { description: 'group 2: 50 events' }),
      ]);
      expect(missing(want, ids(seenA))).toEqual([]);
      expect(missing(want, ids(seenB))).toEqual([]);
    },
  },
  {
    name: 'channel-isolation',
    title: 'a group receives only the channels it subscribed to',
    async run(h) {
      const a = h.contract('iso-a');
      const b = h.contract('iso-b');
      const onA = await consumer(h, a, h.group());
      const onB = await consumer(h, b, h.group());
      const publisher = await h.bus();
      await publisher.publishBatch([
        ...Array.from({ length: 20 }, (_, n) => ({ contract: a, data: { n } })),
        ...Array.from({ length: 20 }, (_, n) => ({ contract: b, data: { n } })),
      ]);
      await onA.spy.waitForCount(20);
      await onB.spy.waitForCount(20);
      await onA.spy.expectNone(() => true, 300);
      expect(onA.spy.calls.every((e) => e.type === a.type)).toBe(true);
      expect(onB.spy.calls.every((e) => e.type === b.type)).toBe(true);
    },
  },
  {
    name: 'key-order',
    title: 'events with one key are handled in publish order',
    async run(h, env) {
      const contract = h.contract('order');
      const probe = await h.transport();
      if (!probe.capabilities.orderingPerKey) return env.skip('the transport reports orderingPerKey: false');
      const group = h.group();
      await provisionGroup(h, group, [contract.channel]);
      const seen = createSpy<{ key: string; n: number }>();
      for (let c = 0; c < 2; c++) {
        const bus = await h.bus();
        bus.handle(contract, { group, concurrency: 8 }, async (event) => {
          // Uneven handler times would reorder a key if the transport let two of its events run at once.
          await new Promise((r) => setTimeout(r, event.data.n % 3));
          seen.fn({ key: event.partitionkey ?? '', n: event.data.n });
        });
        await bus.start();
      }
      const publisher = await h.bus();
      const keys = ['a', 'b', 'c', 'd', 'e'];
      const perKey = 40;
      for (let i = 0; i < perKey; i += 10) {
        await publisher.publishBatch(
          keys.flatMap((key) =>
            Array.from({ length: 10 }, (_, j) => ({ contract, data: { n: i + j }, options: { key } })),
          ),
        );
      }
      const calls = await seen.waitForCount(keys.length * perKey, { timeoutMs: 60_000 });
      for (const key of keys) {
        const order = calls.filter((c) => c.key === key).map((c) => c.n);
        expect(order, `order of key ${key}`).toEqual([...order].sort((x, y) => x - y));
        expect(new Set(order).size).toBe(perKey);
      }
    },
  },
];
