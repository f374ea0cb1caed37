import { readFileSync } from 'node:fs';
import { ConfigError, createTransport, type Delivery, EventbusHeaders, MessageTooLargeError, TransportError } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { adapter, fromUrl, KafkaTransport, schemes } from '../src/index.js';
import { bodyOf, deleteRunTopics, message, runId, testTransport } from './helpers.js';

describe('kafka options', () => {
  it('reads brokers and options from the URL and names a bad option', () => {
    expect(() => fromUrl('kafka://127.0.0.1:9092,127.0.0.1:9094?partitions=6&clientId=api')).not.toThrow();
    expect(() => fromUrl('kafka://127.0.0.1:9092?partitions=0')).toThrow(/`partitions`/);
    expect(() => fromUrl('kafka://127.0.0.1:9092?fetchMaxBytes=1048576')).not.toThrow();
    expect(() => fromUrl('kafka://127.0.0.1:9092?fetchMaxBytes=0')).toThrow(/`fetchMaxBytes`/);
    expect(() => fromUrl('kafka://')).toThrow(ConfigError);
    expect(() => fromUrl('kafka://user:secret@host:9092?mechanism=SCRAM-SHA-256')).not.toThrow();
    expect(() => fromUrl('kafka://user:secret@host?mechanism=PLAIN')).toThrow(/^(?!.*secret)/s);
    expect(() => fromUrl('kafka://127.0.0.1:9092?startFrom=middle')).toThrow(/`startFrom`/);
    expect(() => fromUrl('kafka://user:secret@127.0.0.1:9092?mechanism=MD5')).toThrow(/`mechanism`/);
    expect(() => fromUrl('kafka://user:secret@127.0.0.1:9092?mechanism=MD5')).toThrow(/^(?!.*secret)/s);
  });

  it('is found through its package: `adapter` and the package.json `eventbus` field name it alike', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { eventbus?: unknown };
    expect(schemes).toEqual(['kafka']);
    expect(adapter.name).toBe('kafka');
    expect(adapter.schemes).toBe(schemes);
    expect(pkg.eventbus).toEqual({ name: adapter.name, schemes: [...adapter.schemes] });
    expect(adapter.fromUrl('kafka://127.0.0.1:9092?partitions=2')).toBeInstanceOf(KafkaTransport);
  });

  it('createTransport picks this adapter for kafka:// URLs', async () => {
    const transport = await createTransport('kafka://127.0.0.1:9092?partitions=2');
    expect(transport).toBeInstanceOf(KafkaTransport);
    expect(transport.capabilities.encoding).toEqual({ mode: 'structured', attributePrefix: 'ce_', contentTypeHeader: 'content-type' });
    await transport.close();
  });

  it('connect() to a port where no broker listens fails with a TransportError, and can be retried', async () => {
    const t = fromUrl('kafka://127.0.0.1:1?requestTimeoutMs=1000');
    await expect(t.connect()).rejects.toThrow(TransportError);
    await expect(t.connect()).rejects.toThrow(/cannot reach Kafka at 127\.0\.0\.1:1/);
    await t.close();
  }, 30_000);
});

describeBroker('kafka transport', { variable: 'EVENTBUS_KAFKA_BROKERS' }, (brokers) => {
  const open: KafkaTransport[] = [];
  const transport = async (options = {}) => {
    const t = testTransport(brokers(), options);
    open.push(t);
    await t.connect();
    return t;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(() => deleteRunTopics(brokers()), 60_000);

  it('publishes and delivers with key, headers and body intact', async () => {
    const id = runId();
    const channel = `kt-${id}-basic`;
    const t = await transport();
    const spy = createSpy<Delivery>();
    await t.subscribe({ group: `g-${id}`, channels: [channel], prefetch: 10 }, async (d) => {
      spy.fn(d);
      await d.ack();
    });
    await t.publish([message(channel, 1, { key: 'k1' }), message(channel, 2)]);
    const calls = await spy.waitForCount(2, { timeoutMs: 20_000 });
    const first = calls.find((d) => bodyOf(d.message.body).n === 1)!;
    expect(first.message).toMatchObject({ channel, key: 'k1', headers: { ce_id: 'id-1', 'content-type': 'application/json' } });
    expect(first.attempt).toBe(1);
  });

  it('connects on first use: publish and subscribe work without connect(), as on the other adapters', async () => {
    const id = runId();
    const channel = `kt-${id}-lazy`;
    const consumer = testTransport(brokers());
    const producer = testTransport(brokers());
    open.push(consumer, producer);
    const spy = createSpy<Delivery>();
    await consumer.subscribe({ group: `g-${id}`, channels: [channel], prefetch: 1 }, async (d) => {
      spy.fn(d);
      await d.ack();
    });
    await producer.publish([message(channel, 1)]);
    const [d] = await spy.waitForCount(1, { timeoutMs: 20_000 });
    expect(bodyOf(d!.message.body).n).toBe(1);
  });

  it('never commits past a delivery that is still unsettled while later ones were acked', async () => {
    const id = runId();
    const channel = `kt-${id}-commit`;
    const group = `g-${id}`;
    const t = await transport({ partitions: 1, drainTimeoutMs: 300 });
    const first = createSpy<number>();
    const sub = await t.subscribe({ group, channels: [channel], prefetch: 10 }, async (d) => {
      const { n } = bodyOf(d.message.body);
      first.fn(n);
      if (n !== 0) await d.ack(); // n = 0 stays in its handler
    });
    await t.publish([0, 1, 2, 3, 4].map((n) => message(channel, n)));
    await first.waitForCount(5, { timeoutMs: 20_000 });
    await sub.close();
    const again = createSpy<number>();
    await t.subscribe({ group, channels: [channel], prefetch: 10 }, async (d) => {
      again.fn(bodyOf(d.message.body).n);
      await d.ack();
    });
    const seen = await again.waitFor((c) => c.includes(0), { timeoutMs: 20_000, description: 'the unsettled event again' });
    expect(seen[0]).toBe(0);
  });

  it('nack with a delay goes through the retry topic and is not handled early', async () => {
    const id = runId();
    const channel = `kt-${id}-retry`;
    const t = await transport();
    const spy = createSpy<{ d: Delivery; at: number }>();
    await t.subscribe({ group: `g-${id}`, channels: [channel], prefetch: 10 }, async (d) => {
      spy.fn({ d, at: Date.now() });
      if (d.attempt === 1) await d.nack({ delayMs: 1500 });
      else await d.ack();
    });
    await t.publish([message(channel, 7, { key: 'k' })]);
    const [a, b] = await spy.waitForCount(2, { timeoutMs: 20_000 });
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(1500);
    expect(b!.d.attempt).toBe(2);
    expect(b!.d.message).toMatchObject({ channel, key: 'k', headers: { ce_id: 'id-7' } });
    expect(Object.keys(b!.d.message.headers).filter((h) => h.startsWith('eventbus-') && h !== EventbusHeaders.attempt)).toEqual([]);
    expect(bodyOf(b!.d.message.body).n).toBe(7);
  });

  it('dead letters land in the group DLT with the reason, readable with deadLetters: true', async () => {
    const id = runId();
    const channel = `kt-${id}-dlt`;
    const group = `g-${id}`;
    const t = await transport();
    await t.subscribe({ group, channels: [channel], prefetch: 10 }, (d) => d.deadLetter('handler said no'));
    await t.publish([message(channel, 3, { key: 'dk' })]);
    const dead = createSpy<Delivery>();
    await t.subscribe({ group, channels: [], prefetch: 5, deadLetters: true }, async (d) => {
      dead.fn(d);
      await d.ack();
    });
    const [d] = await dead.waitForCount(1, { timeoutMs: 20_000 });
    expect(d!.message).toMatchObject({
      channel,
      key: 'dk',
      headers: {
        ce_id: 'id-3',
        [EventbusHeaders.deadLetterReason]: 'handler said no',
        [EventbusHeaders.deadLetterGroup]: group,
        [EventbusHeaders.deadLetterChannel]: channel,
      },
    });
    expect(bodyOf(d!.message.body).n).toBe(3);
  });

  it('keeps order per key while other keys run concurrently', async () => {
    const id = runId();
    const channel = `kt-${id}-order`;
    const t = await transport({ partitions: 2, partitionConcurrency: 8 });
    const seen = createSpy<{ key: string; n: number }>();
    let active = 0;
    let maxActive = 0;
    await t.subscribe({ group: `g-${id}`, channels: [channel], prefetch: 16 }, async (d) => {
      active++;
      maxActive = Math.max(maxActive, active);
      const { n } = bodyOf(d.message.body);
      await new Promise((r) => setTimeout(r, (n * 7) % 5));
      seen.fn({ key: d.message.key ?? '', n });
      active--;
      await d.ack();
    });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    await t.publish(keys.flatMap((key) => Array.from({ length: 30 }, (_, n) => message(channel, n, { key }))));
    const calls = await seen.waitForCount(180, { timeoutMs: 30_000 });
    for (const key of keys) {
      const order = calls.filter((c) => c.key === key).map((c) => c.n);
      expect(order, `key ${key}`).toEqual(Array.from({ length: 30 }, (_, n) => n));
    }
    expect(maxActive).toBeGreaterThan(1);
  });

  it('refuses a message over maxMessageBytes before sending it', async () => {
    const t = await transport({ maxMessageBytes: 1000 });
    await expect(t.publish([message(`kt-${runId()}-big`, 1, { body: Buffer.alloc(2000) })])).rejects.toThrow(MessageTooLargeError);
  });
});
