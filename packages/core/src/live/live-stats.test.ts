import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, type EventBus } from '../bus.js';
import { defineEvent } from '../contract.js';
import { silentLogger } from '../logger.js';
import { MemoryTransport } from '../memory/transport.js';
import { eventually } from '../testing/spy.js';
import { serveLiveGraph } from './live-graph-http.js';
import { type LiveSnapshot, LiveStats } from './live-stats.js';

const Job = defineEvent({ type: 'live.job', description: 'A job.', schema: z.object({ mode: z.enum(['ok', 'fail', 'slow']), token: z.string().optional() }) });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function busWith(stats: LiveStats): Promise<EventBus> {
  const bus = createEventBus({
    transport: new MemoryTransport({ broker: randomUUID() }),
    source: '/test/live',
    instrumentation: stats.instrumentation(),
    defaults: { backoff: { initialMs: 1, maxMs: 2 } },
    logger: silentLogger,
  });
  cleanups.push(() => bus.stop());
  let release: () => void = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  // Released before the bus stops (cleanups run newest first), so stop does not wait on it.
  cleanups.push(async () => release());
  bus.handle(Job, { group: 'workers', maxAttempts: 2 }, async (event) => {
    if (event.data.mode === 'fail') throw new Error('boom');
    if (event.data.mode === 'slow') await held;
  });
  await bus.start();
  return bus;
}

describe('LiveStats', () => {
  it('counts publishes, in flight, retries and dead letters per event type and handler, with the dead letter kept', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const stats = new LiveStats({ windowSeconds: 10, now: () => now });
    const bus = await busWith(stats);
    await bus.publish(Job, { mode: 'ok' });
    await bus.publish(Job, { mode: 'slow' });
    const failed = await bus.publish(Job, { mode: 'fail', token: 'postgres://u:hunter2@db/x' });
    const handler = () => stats.snapshot().handlers.find((h) => h.group === 'workers' && h.type === 'live.job');
    await eventually(handler, (h) => h?.deadLetters === 1 && h.acked === 1, { timeoutMs: 5000, description: 'an ack and a dead letter' });
    const h = handler();
    expect(h).toMatchObject({ inFlight: 1, acked: 1, retries: 1, deadLetters: 1 });
    expect(stats.snapshot().events).toEqual([{ type: 'live.job', published: 3, rate: 0.3 }]);
    const record = stats.deadLetter(failed.id);
    expect(record).toMatchObject({ id: failed.id, type: 'live.job', group: 'workers', attempt: 2 });
    expect(record?.reason).toContain('boom');
    expect(record?.data).toMatchObject({ mode: 'fail' });
    // Secrets in the data are masked, as in logs.
    expect(JSON.stringify(record)).not.toContain('hunter2');
    // Rates slide out of the window.
    now += 11_000;
    expect(stats.snapshot().events[0]?.rate).toBe(0);
  });

  it('serves the page with the live meta, the snapshot and a dead letter by id over HTTP', async () => {
    const stats = new LiveStats();
    const bus = await busWith(stats);
    const live = serveLiveGraph({ app: bus, stats, title: 'Live test' });
    const server: Server = createServer((req, res) => {
      if (!live(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const failed = await bus.publish(Job, { mode: 'fail' });
    await eventually(() => stats.deadLetter(failed.id), (r) => r !== undefined, { timeoutMs: 5000, description: 'the dead letter' });

    const page = await fetch(`${base}/events/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<meta name="eventbus-live" content="live.json">');
    expect(html).toContain('data-group="workers" data-on="live.job"');
    const redirect = await fetch(`${base}/events`, { redirect: 'manual' });
    expect(redirect.headers.get('location')).toBe('/events/');
    const snapshot = (await (await fetch(`${base}/events/live.json`)).json()) as LiveSnapshot;
    expect(snapshot.handlers[0]).toMatchObject({ group: 'workers', type: 'live.job', deadLetters: 1, retries: 1 });
    const detail = await fetch(`${base}/events/dead-letters/${failed.id}`);
    expect(detail.status).toBe(200);
    expect(await detail.json()).toMatchObject({ id: failed.id, data: { mode: 'fail' } });
    expect((await fetch(`${base}/events/dead-letters/nope`)).status).toBe(404);
    expect((await fetch(`${base}/other`)).status).toBe(404);
  });
});
