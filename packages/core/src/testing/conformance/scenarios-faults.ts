import { expect } from 'vitest';
import type { EventBus } from '../../bus.js';
import { spawnChildConsumer } from '../child.js';
import { startTcpProxy } from '../tcp-proxy.js';
import { type Harness, missing, type PayloadContract, provisionGroup, SeenIds, scaled } from './harness.js';
import type { TransportFactory } from './options.js';
import { check, type Scenario } from './scenario.js';

/**
 * Publish `total` events in lanes of sequential batches while `disrupt` runs, keeping the ids of
 * every publish that resolved; a rejected publish is counted, not retried (the caller saw the error).
 */
async function publishThrough(
  bus: EventBus,
  contract: PayloadContract,
  total: number,
  disrupt: (progress: () => number) => Promise<void>,
) {
  const resolved = new Set<string>();
  let rejected = 0;
  let next = 0;
  const lanes = Array.from({ length: 4 }, async () => {
    while (next < total) {
      const start = next;
      next += 50;
      const batch = Array.from({ length: Math.min(50, total - start) }, (_, j) => ({ contract, data: { n: start + j } }));
      try {
        for (const e of await bus.publishBatch(batch)) resolved.add(e.id);
      } catch {
        rejected += batch.length;
      }
    }
  });
  await Promise.all([...lanes, disrupt(() => next / total)]);
  return { resolved, rejected };
}

async function until(progress: () => number, fraction: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (progress() < fraction && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

async function collect(h: Harness, contract: PayloadContract, group: string, factory?: TransportFactory, endpoint?: { host: string; port: number }) {
  const seen = new SeenIds();
  const bus = await h.bus({ ...(factory ? { factory } : {}), ...(endpoint ? { endpoint } : {}) });
  bus.handle(contract, { group, concurrency: 50 }, (e) => seen.add(e.id));
  await bus.start();
  return seen;
}

/**
 * The outcome the fault scenarios share: enough publishes got through for the run to mean something,
 * and every publish that resolved was delivered, none silently dropped.
 */
async function expectResolvedDelivered(seen: SeenIds, outcome: { resolved: Set<string>; rejected: number }, atLeast: number) {
  const { resolved, rejected } = outcome;
  expect(resolved.size, `resolved ${resolved.size}, rejected ${rejected}`).toBeGreaterThan(atLeast);
  await seen.waitForAll(resolved, { timeoutMs: 120_000, description: 'every resolved publish' });
  expect(missing(resolved, seen.seen).length, 'resolved publishes never delivered').toBe(0);
}

export const faultScenarios: Scenario[] = [
  {
    name: 'connection-cut',
    title: 'connections cut (TCP proxy) during 10,000 publishes: every publish that resolved is delivered',
    slow: true,
    async run(h, env) {
      const target = env.options.brokerEndpoint;
      if (!target) return env.skip('no brokerEndpoint given for the TCP proxy');
      const proxy = await startTcpProxy(target);
      h.onCleanup(() => proxy.close());
      const endpoint = { host: proxy.host, port: proxy.port };
      const contract = h.contract('cut');
      const group = h.group();
      await provisionGroup(h, group, [contract.channel]);
      const seen = await collect(h, contract, group, undefined, endpoint);
      const publisher = await h.bus({ endpoint });
      const total = scaled(10_000, env.options.scale);
      const { resolved, rejected } = await publishThrough(publisher, contract, total, async (progress) => {
        await until(progress, 0.3);
        proxy.cut();
        await until(progress, 0.6);
        proxy.cut();
      });
      await expectResolvedDelivered(seen, { resolved, rejected }, total / 2);
    },
  },
  {
    name: 'broker-restart',
    title: 'a private broker restarted mid-run: every publish that resolved is delivered',
    slow: true,
    async run(h, env) {
      const broker = env.options.privateBroker;
      if (!broker) return env.skip('no privateBroker given');
      await broker.start();
      h.onCleanup(() => broker.stop());
      const contract = h.contract('restart');
      const group = h.group();
      await provisionGroup(h, group, [contract.channel], broker.factory);
      const seen = await collect(h, contract, group, broker.factory);
      const publisher = await h.bus({ factory: broker.factory });
      const total = scaled(2_000, env.options.scale);
      const { resolved, rejected } = await publishThrough(publisher, contract, total, async (progress) => {
        await until(progress, 0.4);
        await broker.restart();
      });
      await expectResolvedDelivered(seen, { resolved, rejected }, total / 3);
    },
  },
  {
    name: 'sigkill',
    title: 'a consumer process killed with SIGKILL mid-handler: its events go to another consumer',
    slow: true,
    async run(h, env) {
      const child = env.options.child;
      if (!child) return env.skip('no child module given (a process-local transport cannot be shared with a child)');
      const contract = h.contract('kill');
      const group = h.group();
      await provisionGroup(h, group, [contract.channel]);
      const worker = spawnChildConsumer({ ...child, group, channels: [contract.channel], prefetch: 5 });
      h.onCleanup(() => worker.kill());
      await worker.ready;
      const publisher = await h.bus();
      const sent = (await publisher.publishBatch(Array.from({ length: 10 }, (_, n) => ({ contract, data: { n } })))).map((e) => e.id);
      const held = await worker.received.waitForCount(1, { timeoutMs: 30_000, description: 'the child to take work' });
      worker.kill();
      await worker.exited;
      const seen = await collect(h, contract, group);
      const timeoutMs = (env.options.redeliveryTimeoutMs ?? 10_000) + 30_000;
      await seen.waitForAll(sent, { timeoutMs, description: 'all 10 events' });
      check(held.length > 0, 'the child held nothing');
      expect(missing(worker.received.calls, seen.seen)).toEqual([]);
    },
  },
];
