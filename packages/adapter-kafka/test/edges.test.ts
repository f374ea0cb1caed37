import { inspect } from 'node:util';
import { type Delivery, type Logger, TransportError } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { Admin } from '@platformatic/kafka';
import { afterAll, afterEach, expect, it } from 'vitest';
import type { KafkaTransport } from '../src/index.js';
import { bodyOf, brokersFrom, deleteRunTopics, message, runId, testTransport } from './helpers.js';

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const line = (obj: object, msg?: string) => lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  return { logger: { debug: line, info: line, warn: line, error: line }, lines };
}

describeBroker('kafka edges', { variable: 'EVENTBUS_KAFKA_BROKERS' }, (brokers) => {
  const open: KafkaTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(() => deleteRunTopics(brokers()), 60_000);

  async function cluster(): Promise<{ topics: string[]; groups: string[] }> {
    const admin = new Admin({ clientId: 'test-edges', bootstrapBrokers: brokersFrom(brokers()) });
    try {
      return { topics: await admin.listTopics(), groups: [...(await admin.listGroups()).keys()] };
    } finally {
      await admin.close();
    }
  }

  it('provision() creates the channel, retry and dead-letter topics without joining the group, idempotently; the first worker gets what was published since', async () => {
    const id = runId();
    const channel = `ed-${id}-prov`;
    const group = `g-${id}`;
    const admin = testTransport(brokers());
    open.push(admin);
    await admin.provision([{ group, channels: [channel] }]);
    await admin.provision([{ group, channels: [channel] }]);
    const { topics, groups } = await cluster();
    expect(topics).toEqual(expect.arrayContaining([channel, `${group}.retry`, `${group}.dlt`]));
    expect(groups).not.toContain(group);
    await admin.publish([message(channel, 1), message(channel, 2)]);
    const worker = testTransport(brokers());
    open.push(worker);
    const seen = createSpy<number>();
    await worker.subscribe({ group, channels: [channel], prefetch: 5 }, async (d: Delivery) => {
      seen.fn(bodyOf(d.message.body).n);
      await d.ack();
    });
    expect((await seen.waitForCount(2, { timeoutMs: 20_000 })).sort()).toEqual([1, 2]);
  });

  it('a publish with no group bound is kept: unroutedPublish is "kept" and a group that subscribes later starts from the earliest record', async () => {
    const id = runId();
    const channel = `ed-${id}-nogroup`;
    const publisher = testTransport(brokers());
    open.push(publisher);
    expect(publisher.capabilities.unroutedPublish).toBe('kept');
    await publisher.publish([message(channel, 1), message(channel, 2), message(channel, 3)]);
    for (const group of [`g1-${id}`, `g2-${id}`]) {
      const consumer = testTransport(brokers());
      open.push(consumer);
      const seen = createSpy<number>();
      await consumer.subscribe({ group, channels: [channel], prefetch: 5 }, async (d: Delivery) => {
        seen.fn(bodyOf(d.message.body).n);
        await d.ack();
      });
      expect((await seen.waitForCount(3, { timeoutMs: 20_000 })).sort()).toEqual([1, 2, 3]);
    }
  });

  it('credentials the broker refuses: connect() fails at once, saying authentication failed for the user, and no output carries the password', async () => {
    const password = 'hunter2-do-not-print';
    const { logger, lines } = recordingLogger();
    // The machine's broker has no SASL listener: it refuses the SASL handshake, as a broker refuses a wrong mechanism.
    const t = testTransport(brokers(), { sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password }, logger });
    open.push(t);
    const started = Date.now();
    const error = await t.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - started;
    expect(error).toBeInstanceOf(TransportError);
    const text = (error as Error).message;
    expect(text).toMatch(/authentication failed for user "alice"/);
    expect(text).not.toMatch(/metadata failed/);
    // No retries: one handshake, not six attempts half a second apart.
    expect(took).toBeLessThan(2000);
    const outputs = [text, (error as Error).stack ?? '', inspect(t, { depth: 10, showHidden: true }), JSON.stringify(t), ...lines];
    for (const output of outputs) expect(output).not.toContain(password);
    expect(lines.filter((l) => l.includes('authentication failed'))).toHaveLength(1);
    expect(inspect(t)).toContain('alice');
  });
});
