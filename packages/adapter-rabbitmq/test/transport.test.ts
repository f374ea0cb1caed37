import { readFileSync } from 'node:fs';
import { ConfigError, type Delivery, EventbusHeaders, MessageTooLargeError } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { adapter, fromUrl, RabbitMqTransport, schemes } from '../src/index.js';
import { cloudEventMessage, Fixture, json, URL_VARIABLE } from './helpers.js';

describe('RabbitMqTransport options', () => {
  it('rejects bad options at construction, naming the option', () => {
    expect(() => new RabbitMqTransport({ url: 'http://localhost' })).toThrow(/`url`.*amqp/);
    expect(() => new RabbitMqTransport({ url: 'amqp://localhost', queueType: 'stream' as never })).toThrow(ConfigError);
    expect(() => new RabbitMqTransport({ url: 'amqp://localhost', exchange: 'amq.topic' })).toThrow(/`exchange`/);
    expect(() => new RabbitMqTransport({ url: 'amqp://localhost', publishTimeoutMs: -1 })).toThrow(/`publishTimeoutMs`/);
    for (const publishers of [0, 1.5, 17]) {
      expect(() => new RabbitMqTransport({ url: 'amqp://localhost', publishers })).toThrow(/`publishers`/);
    }
    expect(() => fromUrl('amqp://localhost/?publishers=many')).toThrow(/`publishers`/);
  });

  it('never shows the password of the URL in an error', async () => {
    const transport = fromUrl('amqp://user:s3cret-pw@127.0.0.1:1/vhost', { connectTimeoutMs: 300 });
    const error = await transport.connect().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/user:\*\*\*@127\.0\.0\.1/);
    expect(`${error?.message} ${error?.stack}`).not.toContain('s3cret-pw');
    await transport.close();
  });

  it('reads eventbus options from the URL query, which wins over options', () => {
    const transport = fromUrl('amqp://localhost/?exchange=orders&maxMessageBytes=2048&heartbeat=5', { exchange: 'other' });
    expect(transport.capabilities.maxMessageBytes).toBe(2048);
    expect(() => fromUrl('amqp://localhost/?queueType=stream')).toThrow(/`queueType`/);
    expect(() => fromUrl('amqp://localhost/?mandatory=yes')).toThrow(/`mandatory`/);
    expect(() => fromUrl('amqp://localhost/?mandatory=false')).toThrow(/`mandatory`: is always on/);
    expect(fromUrl('amqp://localhost/?mandatory=true').capabilities.unroutedPublish).toBe('rejected');
  });

  it('is the adapter its package.json names: same name and schemes, fromUrl builds the transport', () => {
    const manifest: { eventbus: { name: string; schemes: string[] } } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(adapter.name).toBe(manifest.eventbus.name);
    expect(adapter.schemes).toEqual(manifest.eventbus.schemes);
    expect(schemes).toEqual(['amqp', 'amqps']);
    expect(adapter.fromUrl('amqps://localhost/?exchange=orders')).toBeInstanceOf(RabbitMqTransport);
  });

  it('declares the CloudEvents AMQP binding as its encoding', () => {
    const transport = fromUrl('amqps://localhost', { tls: { rejectUnauthorized: false } });
    expect(transport.capabilities.encoding).toEqual({ mode: 'structured', attributePrefix: 'cloudEvents_', contentTypeHeader: 'content-type' });
    expect(transport.name).toBe('rabbitmq');
  });
});

describeBroker('RabbitMqTransport', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  afterAll(() => fixture.cleanup());

  it('delivers to every group, competing within one, with data, headers and key intact', async () => {
    const transport = fixture.transport();
    await transport.connect();
    const [a, b] = [fixture.group('a'), fixture.group('b')];
    const spyA = createSpy<Delivery>();
    const spyB = createSpy<Delivery>();
    const ack = (spy: typeof spyA) => async (d: Delivery) => {
      spy.fn(d);
      await d.ack();
    };
    await transport.subscribe({ group: a, channels: ['orders'], prefetch: 5 }, ack(spyA));
    await transport.subscribe({ group: a, channels: ['orders'], prefetch: 5 }, ack(spyA));
    await transport.subscribe({ group: b, channels: ['orders'], prefetch: 5 }, ack(spyB));
    const messages = Array.from({ length: 20 }, (_, i) => ({ ...cloudEventMessage('orders', { i }), key: `k${i % 3}` }));
    messages[0]!.headers['x-odd ünïcode'] = 'välue ✓';
    messages[0]!.headers['x-delivery-count'] = '7';
    await transport.publish(messages);
    await spyA.waitForCount(20);
    await spyB.waitForCount(20);
    const first = spyB.calls.find((d) => d.message.headers.cloudEvents_id === messages[0]!.id)!;
    expect(first.message.channel).toBe('orders');
    expect(first.message.key).toBe('k0');
    expect(first.message.headers['content-type']).toBe('application/json');
    expect(first.message.headers['x-odd ünïcode']).toBe('välue ✓');
    // The quorum queue's own delivery count is the broker's, not a header of the message.
    expect(first.message.headers['x-delivery-count']).toBeUndefined();
    expect(json(first.message.body)).toEqual({ i: 0 });
    expect(first.attempt).toBe(1);
    expect(new Set(spyA.calls.map((d) => d.message.headers.cloudEvents_id)).size).toBe(20);
  });

  it('nack without delay redelivers with a rising attempt, on quorum and classic queues', async () => {
    for (const queueType of ['quorum', 'classic'] as const) {
      const transport = fixture.transport({ queueType, exchange: `${fixture.exchange}-${queueType}` });
      const group = fixture.group(queueType);
      const attempts = createSpy<number>();
      await transport.subscribe({ group, channels: ['retry'], prefetch: 1 }, async (d) => {
        attempts.fn(d.attempt);
        if (d.attempt < 3) await d.nack();
        else await d.ack();
      });
      await transport.publish([cloudEventMessage('retry', 1)]);
      await attempts.waitForCount(3);
      expect(attempts.calls).toEqual([1, 2, 3]);
      await transport.close();
    }
  });

  it('nack with delay waits in a retry queue, is not early, and keeps counting attempts', async () => {
    const transport = fixture.transport();
    const group = fixture.group('delay');
    const seen = createSpy<{ attempt: number; at: number; channel: string }>();
    await transport.subscribe({ group, channels: ['slow'], prefetch: 2 }, async (d) => {
      seen.fn({ attempt: d.attempt, at: Date.now(), channel: d.message.channel });
      if (d.attempt < 3) await d.nack({ delayMs: 300 });
      else await d.ack();
    });
    await transport.publish([cloudEventMessage('slow', 'x')]);
    const calls = await seen.waitForCount(3, { timeoutMs: 10_000 });
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(calls.map((c) => c.channel)).toEqual(['slow', 'slow', 'slow']);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(290);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(290);
  });

  it('dead-letters with reason headers into a queue that subscribe({ deadLetters: true }) reads', async () => {
    const transport = fixture.transport();
    const group = fixture.group('dlq');
    await transport.subscribe({ group, channels: ['bad'], prefetch: 1 }, (d) => d.deadLetter('handler gave up'));
    const message = cloudEventMessage('bad', { n: 1 });
    await transport.publish([message]);
    const dead = createSpy<Delivery>();
    await transport.subscribe({ group, channels: [], prefetch: 1, deadLetters: true }, async (d) => {
      dead.fn(d);
      await d.ack();
    });
    const [d] = await dead.waitForCount(1);
    expect(d!.message.headers[EventbusHeaders.deadLetterReason]).toBe('handler gave up');
    expect(d!.message.headers[EventbusHeaders.deadLetterGroup]).toBe(group);
    expect(d!.message.headers[EventbusHeaders.deadLetterChannel]).toBe('bad');
    expect(d!.message.headers.cloudEvents_id).toBe(message.id);
    expect(json(d!.message.body)).toEqual({ n: 1 });
  });

  it('spreads keyless publishes over its publishing connections; one key keeps its order across them', async () => {
    const transport = fixture.transport({ publishers: 3 });
    const group = fixture.group('pool');
    const seen = createSpy<Delivery>();
    await transport.subscribe({ group, channels: ['pool'], prefetch: 50 }, async (d) => {
      seen.fn(d);
      await d.ack();
    });
    // Calls made at once, not one after another: only the key can keep them in order.
    const keyed = Array.from({ length: 150 }, (_, i) => transport.publish([{ ...cloudEventMessage('pool', { i }), key: 'one-key' }]));
    const keyless = Array.from({ length: 60 }, (_, i) => transport.publish([cloudEventMessage('pool', { free: i })]));
    await Promise.all([...keyed, ...keyless]);
    const all = await seen.waitForCount(210);
    const order = all.filter((d) => d.message.key === 'one-key').map((d) => (json(d.message.body) as { i: number }).i);
    expect(order).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });

  it('refuses a message over maxMessageBytes before sending it', async () => {
    const transport = fixture.transport({ maxMessageBytes: 1024 });
    const big = cloudEventMessage('big', 'x'.repeat(2000));
    await expect(transport.publish([big])).rejects.toBeInstanceOf(MessageTooLargeError);
  });

  it('acks coalesced into one frame never cover a delivery still in hand', async () => {
    const transport = fixture.transport();
    const group = fixture.group('acks');
    const seen = createSpy<Delivery>();
    await transport.subscribe({ group, channels: ['a'], prefetch: 3 }, (d) => seen.fn(d));
    await transport.publish([1, 2, 3].map((n) => cloudEventMessage('a', n)));
    const [first, second, third] = await seen.waitForCount(3);
    await Promise.all([third!.ack(), second!.ack()]);
    await new Promise((r) => setImmediate(r)); // the coalesced acks (of 2 and 3, not 1) go out first
    await first!.nack();
    const [again] = (await seen.waitForCount(4)).slice(3);
    expect(json(again!.message.body)).toEqual(json(first!.message.body));
    expect(again!.attempt).toBe(2);
    await again!.ack();
    await seen.expectNone(() => true, 300);
  });

  it('close() cancels at once, waits for deliveries in hand, and is idempotent', async () => {
    const transport = fixture.transport();
    const group = fixture.group('close');
    const started = createSpy<Delivery>();
    const subscription = await transport.subscribe({ group, channels: ['c'], prefetch: 3 }, (d) => started.fn(d));
    await transport.publish([1, 2, 3, 4, 5].map((n) => cloudEventMessage('c', n)));
    await started.waitForCount(3);
    let closed = false;
    const closing = subscription.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    for (const d of started.calls) await d.ack();
    await closing;
    expect(started.count).toBe(3);
    await subscription.close();
    // The two not handed out are still in the queue for the next consumer.
    const rest = createSpy<Delivery>();
    await transport.subscribe({ group, channels: ['c'], prefetch: 3 }, async (d) => {
      rest.fn(d);
      await d.ack();
    });
    await rest.waitForCount(2);
    await transport.close();
    await transport.close();
  });
});
