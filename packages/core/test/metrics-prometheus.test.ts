import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventBus, defineEvent, type EventBus, MemoryTransport, silentLogger } from '../src/index.js';
import { eventually } from '../src/testing/index.js';
import { prometheusMetrics } from './fixtures/prometheus-metrics.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const Job = defineEvent({ type: 'prom.job', description: 'A job.', schema: z.object({ fail: z.boolean() }) });

/** A port nobody listens on now (the exporter binds it itself). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('docs/metrics.md Prometheus set-up', () => {
  it('shows the set-up exactly as the fixture has it', () => {
    const doc = readFileSync(`${root}/docs/metrics.md`, 'utf8');
    const fixture = readFileSync(`${root}/packages/core/test/fixtures/prometheus-metrics.ts`, 'utf8');
    expect(doc).toContain(`\`\`\`ts\n${fixture}\`\`\``);
  });

  it('serves the bus’s metrics on /metrics for Prometheus', async () => {
    const port = await freePort();
    const metrics = prometheusMetrics(port);
    cleanups.push(() => metrics.shutdown());
    const bus: EventBus = createEventBus({
      transport: new MemoryTransport({ broker: randomUUID() }),
      source: '/test/prometheus',
      logger: silentLogger,
      instrumentation: metrics.instrumentation,
      defaults: { backoff: { initialMs: 1, maxMs: 2 }, maxAttempts: 2 },
    });
    cleanups.push(() => bus.stop());
    bus.handle(Job, { group: 'prom-workers' }, (event) => {
      if (event.data.fail) throw new Error('boom');
    });
    await bus.start();
    await bus.publish(Job, { fail: false });
    await bus.publish(Job, { fail: true });
    const text = await eventually(
      () =>
        fetch(`http://127.0.0.1:${port}/metrics`)
          .then((r) => r.text())
          .catch(() => ''),
      (body) => /eventbus_dead_letters_total\{[^}]*\} 1\b/.test(body),
      { description: 'the dead letter on /metrics' },
    );
    expect(text).toMatch(/messaging_client_sent_messages_total\{[^}]*messaging_destination_name="prom.job"[^}]*\} 2\b/);
    expect(text).toMatch(/eventbus_retries_total\{[^}]*messaging_consumer_group_name="prom-workers"[^}]*\} 1\b/);
    expect(text).toMatch(/messaging_process_duration_bucket\{[^}]*eventbus_outcome="ack"[^}]*le="0.005"\}/);
    expect(text).toMatch(/eventbus_in_flight\{[^}]*\} 0\b/);
    expect(text).toMatch(/eventbus_backlog\{[^}]*messaging_consumer_group_name="prom-workers"[^}]*\} 0\b/);
  });
});
