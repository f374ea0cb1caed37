import { randomUUID } from 'node:crypto';
import { ConfigError, createEventBus, type Delivery, defineEvent, EventbusHeaders } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage, type Options } from 'amqplib';
import { CloudEvent } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fromUrl, RabbitMqTransport } from '../src/index.js';
import { Fixture, runId, URL_VARIABLE } from './helpers.js';

const STRUCTURED = 'application/cloudevents+json';

/*
 * The CloudEvents SDK has no AMQP binding: a plain program lays its events out by the AMQP binding
 * by hand (binary: `cloudEvents_` headers and the content-type property; structured: the SDK's JSON
 * event format in the body), and reads ours back into the SDK's CloudEvent, whose constructor
 * validates every attribute (specversion, id, source, type, extension names).
 */
function amqpBinary(event: CloudEvent<unknown>): { body: Buffer; options: Options.Publish } {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.toJSON())) {
    if (name !== 'data' && name !== 'datacontenttype' && value !== undefined) headers[`cloudEvents_${name}`] = String(value);
  }
  return { body: Buffer.from(JSON.stringify(event.data)), options: { contentType: event.datacontenttype ?? 'application/json', headers } };
}

function amqpStructured(event: CloudEvent<unknown>): { body: Buffer; options: Options.Publish } {
  return { body: Buffer.from(JSON.stringify(event)), options: { contentType: STRUCTURED } };
}

function cloudEventFrom(msg: ConsumeMessage): CloudEvent<unknown> {
  if (msg.properties.contentType === STRUCTURED) return new CloudEvent(JSON.parse(msg.content.toString('utf8')));
  const attributes: Record<string, unknown> = { datacontenttype: msg.properties.contentType, data: JSON.parse(msg.content.toString('utf8')) };
  for (const [name, value] of Object.entries(msg.properties.headers ?? {})) {
    if (name.startsWith('cloudEvents_')) attributes[name.slice('cloudEvents_'.length)] = value;
  }
  return new CloudEvent(attributes);
}

describe('rabbitmq wireMode option', () => {
  it('is structured by default, binary when asked (also from the URL query), and a ConfigError naming it otherwise', () => {
    const tls = { tls: { rejectUnauthorized: false } };
    expect(fromUrl('amqps://localhost', tls).capabilities.encoding.mode).toBe('structured');
    expect(fromUrl('amqps://localhost/?wireMode=binary', tls).capabilities.encoding).toEqual({
      mode: 'binary',
      attributePrefix: 'cloudEvents_',
      contentTypeHeader: 'content-type',
    });
    expect(fromUrl('amqps://localhost', { ...tls, wireMode: 'binary' }).capabilities.encoding.mode).toBe('binary');
    const bad = (() => {
      try {
        new RabbitMqTransport({ url: 'amqps://localhost', wireMode: 'json' as 'binary' });
      } catch (error) {
        return error;
      }
    })();
    expect(bad).toBeInstanceOf(ConfigError);
    expect(bad).toMatchObject({ option: 'wireMode', message: expect.stringContaining('"structured" or "binary"') });
    expect(() => fromUrl('amqps://localhost/?wireMode=text', tls)).toThrow(/wireMode/);
  });
});

// Interop with the CloudEvents AMQP binding as any other client sees it: a plain amqplib program
// reads what the bus writes, and the bus handles (or dead-letters) what a plain program writes.
describeBroker('rabbitmq interop with plain amqplib clients', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  let plain: ChannelModel;
  let ch: Channel;
  const Ordered = defineEvent({
    type: runId('interop.order.placed').replaceAll(/[^a-z0-9]+/gi, '.'),
    description: 'an order for the interop tests',
    schema: z.object({ orderId: z.string(), total: z.number() }),
  });

  beforeAll(async () => {
    plain = await amqp.connect(url());
    ch = await plain.createChannel();
    await ch.assertExchange(fixture.exchange, 'topic', { durable: true });
  });
  afterAll(async () => {
    await plain?.close();
    await fixture.cleanup();
  });

  function busFor(group: string, received: (data: unknown, id: string) => void) {
    const bus = createEventBus({ transport: fixture.transport(), source: '/tests/interop', group });
    bus.handle(Ordered, { maxAttempts: 1 }, (event) => received(event.data, event.id));
    return bus;
  }

  async function plainReader(): Promise<ReturnType<typeof createSpy<ConsumeMessage>>> {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, fixture.exchange, Ordered.channel);
    const got = createSpy<ConsumeMessage>();
    await ch.consume(queue, (msg) => msg && got.fn(msg), { noAck: true });
    return got;
  }

  it('a plain amqplib consumer reads what the bus publishes by default: one structured CloudEvent body', async () => {
    const got = await plainReader();
    const bus = createEventBus({ transport: fixture.transport(), source: '/tests/interop' });
    const sent = await bus.publish(Ordered, { orderId: 'o-0', total: 1.5 }, { subject: 'orders/o-0', key: 'o-0' });
    const [msg] = await got.waitForCount(1);
    expect(msg!.properties.contentType).toBe(STRUCTURED);
    expect(msg!.properties.messageId).toBe(sent.id);
    expect(Object.keys(msg!.properties.headers ?? {}).filter((name) => name.startsWith('cloudEvents'))).toEqual([]);
    const event = cloudEventFrom(msg!);
    expect({ id: event.id, type: event.type, source: event.source, subject: event.subject, specversion: event.specversion }).toEqual({
      id: sent.id,
      type: Ordered.type,
      source: '/tests/interop',
      subject: 'orders/o-0',
      specversion: '1.0',
    });
    expect(event.datacontenttype).toBe('application/json');
    expect(event.partitionkey).toBe('o-0');
    expect(event.data).toEqual({ orderId: 'o-0', total: 1.5 });
    await bus.stop();
  });

  it('a plain amqplib consumer reads what the bus publishes in binary mode (cloudEvents_ headers, content-type property)', async () => {
    const got = await plainReader();
    const bus = createEventBus({ transport: fixture.transport({ wireMode: 'binary' }), source: '/tests/interop' });
    const sent = await bus.publish(Ordered, { orderId: 'o-1', total: 12.5 }, { subject: 'orders/o-1' });
    const [msg] = await got.waitForCount(1);
    expect(cloudEventFrom(msg!)).toMatchObject({ id: sent.id, type: Ordered.type, data: { orderId: 'o-1', total: 12.5 } });
    expect(msg!.properties.contentType).toBe('application/json');
    expect(msg!.properties.messageId).toBe(sent.id);
    expect(msg!.properties.headers).toMatchObject({
      cloudEvents_specversion: '1.0',
      cloudEvents_id: sent.id,
      cloudEvents_type: Ordered.type,
      cloudEvents_source: '/tests/interop',
      cloudEvents_subject: 'orders/o-1',
    });
    expect(JSON.parse(msg!.content.toString('utf8'))).toEqual({ orderId: 'o-1', total: 12.5 });
    await bus.stop();
  });

  for (const wireMode of ['structured', 'binary'] as const) {
    it(`the bus in ${wireMode} mode handles SDK events a plain amqplib producer wrote in binary and in structured mode`, async () => {
      const handled = createSpy<{ data: unknown; id: string }>();
      const bus = createEventBus({ transport: fixture.transport({ wireMode }), source: '/tests/interop', group: fixture.group(`in-${wireMode}`) });
      bus.handle(Ordered, { maxAttempts: 1 }, (event) => handled.fn({ data: event.data, id: event.id }));
      await bus.start();
      const sdkEvent = (id: string, orderId: string) =>
        new CloudEvent({ id, source: '/legacy/php-shop', type: Ordered.type, datacontenttype: 'application/json', data: { orderId, total: 3 } });
      const binaryId = randomUUID();
      const structuredId = randomUUID();
      for (const { body, options } of [amqpBinary(sdkEvent(binaryId, 'o-bin')), amqpStructured(sdkEvent(structuredId, 'o-str'))]) {
        ch.publish(fixture.exchange, Ordered.channel, body, options);
      }
      const calls = await handled.waitForCount(2);
      expect(Object.fromEntries(calls.map((call) => [call.id, call.data]))).toEqual({
        [binaryId]: { orderId: 'o-bin', total: 3 },
        [structuredId]: { orderId: 'o-str', total: 3 },
      });
      await bus.stop();
    });
  }

  it('a binary-mode bus and a structured-mode bus handle each other’s events (a mixed deployment while switching)', async () => {
    const handled = createSpy<{ mode: string; id: string }>();
    const buses = (['binary', 'structured'] as const).map((wireMode) => {
      const bus = createEventBus({ transport: fixture.transport({ wireMode }), source: `/tests/${wireMode}`, group: fixture.group(`mixed-${wireMode}`) });
      bus.handle(Ordered, { maxAttempts: 1 }, (event) => handled.fn({ mode: wireMode, id: event.id }));
      return bus;
    });
    for (const bus of buses) await bus.start();
    const sent = await Promise.all(buses.map((bus, n) => bus.publish(Ordered, { orderId: `mixed-${n}`, total: n })));
    const calls = await handled.waitForCount(4);
    for (const mode of ['binary', 'structured']) {
      expect(calls.filter((call) => call.mode === mode).map((call) => call.id).sort()).toEqual(sent.map((event) => event.id).sort());
    }
    for (const bus of buses) await bus.stop();
  });

  it('the bus reads `cloudEvents:` attribute names (binding 3.1.3.1) and a time sent as an AMQP timestamp as RFC 3339', async () => {
    const handled = createSpy<{ id: string; source: string; time: string; data: unknown }>();
    const bus = createEventBus({ transport: fixture.transport(), source: '/tests/interop', group: fixture.group('colon') });
    bus.handle(Ordered, { maxAttempts: 1 }, (event) => handled.fn({ id: event.id, source: event.source, time: event.time, data: event.data }));
    await bus.start();
    const body = (orderId: string) => Buffer.from(JSON.stringify({ orderId, total: 1 }));
    const seconds = 1_767_225_600; // 2026-01-01T00:00:00Z
    ch.publish(fixture.exchange, Ordered.channel, body('colon'), {
      contentType: 'application/json',
      headers: {
        'cloudEvents:specversion': '1.0',
        'cloudEvents:id': 'c-1',
        'cloudEvents:source': '/amqp-1.0/producer',
        'cloudEvents:type': Ordered.type,
        'cloudEvents:time': { '!': 'timestamp', value: seconds },
      },
    });
    ch.publish(fixture.exchange, Ordered.channel, body('underscore'), {
      contentType: 'application/json',
      headers: {
        cloudEvents_specversion: '1.0',
        cloudEvents_id: 'c-2',
        cloudEvents_source: '/legacy',
        cloudEvents_type: Ordered.type,
        cloudEvents_time: { '!': 'timestamp', value: seconds + 1 },
      },
    });
    const calls = await handled.waitForCount(2);
    const byId = Object.fromEntries(calls.map((c) => [c.id, c]));
    expect(byId['c-1']).toEqual({ id: 'c-1', source: '/amqp-1.0/producer', time: '2026-01-01T00:00:00.000Z', data: { orderId: 'colon', total: 1 } });
    expect(byId['c-2']?.time).toBe('2026-01-01T00:00:01.000Z');
    await bus.stop();
  });

  it('poison from a plain client (not JSON, wrong schema, no headers) lands in the dead-letter queue with its reason', async () => {
    const group = fixture.group('poison');
    const handled = createSpy<unknown>();
    const bus = busFor(group, (data) => handled.fn(data));
    await bus.start();
    const attrs = (id: string) => ({
      cloudEvents_specversion: '1.0',
      cloudEvents_id: id,
      cloudEvents_source: '/legacy',
      cloudEvents_type: Ordered.type,
    });
    const send = (body: string, headers?: Record<string, string>) =>
      ch.publish(fixture.exchange, Ordered.channel, Buffer.from(body), headers ? { contentType: 'application/json', headers } : {});
    send('{not json', attrs('p-json'));
    send(JSON.stringify({ orderId: 42 }), attrs('p-schema'));
    send(JSON.stringify({ orderId: 'o', total: 1 }));
    send(JSON.stringify({ orderId: 'ok', total: 1 }), attrs('p-good'));
    // The consumer kept running: the good one after the poison is handled.
    await handled.waitForCount(1);
    expect(handled.calls).toEqual([{ orderId: 'ok', total: 1 }]);

    const reader = fixture.transport();
    const dead = createSpy<Delivery>();
    await reader.subscribe({ group, channels: [], prefetch: 10, deadLetters: true }, async (d) => {
      dead.fn(d);
      await d.ack();
    });
    const letters = await dead.waitForCount(3);
    const reasons = Object.fromEntries(
      letters.map((d) => [d.message.headers.cloudEvents_id ?? 'no-headers', d.message.headers[EventbusHeaders.deadLetterReason]]),
    );
    expect(reasons['p-json']).toMatch(/^malformed: event data is not JSON/);
    expect(reasons['p-schema']).toMatch(/^schema-mismatch:/);
    expect(reasons['no-headers']).toMatch(/^missing-attributes:/);
    const noHeaders = letters.find((d) => d.message.headers.cloudEvents_id === undefined)!;
    expect(noHeaders.message.body.toString()).toBe(JSON.stringify({ orderId: 'o', total: 1 }));
    await bus.stop();
  });
});
