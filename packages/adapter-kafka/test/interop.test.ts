import { ConfigError, createEventBus, defineEvent, type EventBus, EventbusHeaders, type ReceivedMessage, silentLogger } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { Consumer } from '@platformatic/kafka';
import { CloudEvent, Kafka } from 'cloudevents';
import { Kafka as KafkaJs, logLevel } from 'kafkajs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fromUrl, KafkaTransport } from '../src/index.js';
import { headersFrom } from '../src/wire.js';
import { brokersFrom, deleteRunTopics, FAST_GROUP, runId, testTransport } from './helpers.js';

/** The SDK leaves absent attributes as undefined header values, which kafkajs cannot encode. */
function definedHeaders(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
}

const schema = z.object({ orderId: z.string(), total: z.number() });
const WIRE_MODES = ['structured', 'binary'] as const;

describe('kafka wireMode option', () => {
  it('is structured by default, binary when asked (also from the URL query), and a ConfigError naming it otherwise', () => {
    expect(fromUrl('kafka://127.0.0.1:9092').capabilities.encoding.mode).toBe('structured');
    expect(fromUrl('kafka://127.0.0.1:9092?wireMode=binary').capabilities.encoding).toEqual({
      mode: 'binary',
      attributePrefix: 'ce_',
      contentTypeHeader: 'content-type',
    });
    expect(fromUrl('kafka://127.0.0.1:9092', { wireMode: 'binary' }).capabilities.encoding.mode).toBe('binary');
    expect(() => new KafkaTransport({ brokers: ['127.0.0.1:9092'], wireMode: 'avro' as 'binary' })).toThrow(ConfigError);
    expect(() => fromUrl('kafka://127.0.0.1:9092?wireMode=avro')).toThrow(/`wireMode`: must be "structured" or "binary" \(got "avro"\)/);
  });
});

describeBroker('kafka interop', { variable: 'EVENTBUS_KAFKA_BROKERS' }, (brokers) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
  });
  afterAll(() => deleteRunTopics(brokers()), 60_000);

  async function bus(wireMode?: 'structured' | 'binary'): Promise<{ bus: EventBus; transport: KafkaTransport }> {
    const transport = testTransport(brokers(), wireMode ? { wireMode } : {});
    const b = createEventBus({ transport, source: '/interop', logger: silentLogger });
    cleanups.push(() => b.stop(), () => transport.close());
    await transport.connect();
    return { bus: b, transport };
  }

  const kafkajs = () => new KafkaJs({ clientId: 'interop', brokers: brokersFrom(brokers()), logLevel: logLevel.NOTHING });

  it.each(WIRE_MODES)('our records in %s mode decode with the CloudEvents SDK Kafka binding, read by a plain @platformatic/kafka consumer', async (wireMode) => {
    const id = runId();
    const contract = defineEvent({ type: `interop.order.placed.${id}`, description: 'interop', schema });
    const { bus: publisher } = await bus(wireMode);
    const sent = await publisher.publish(contract, { orderId: 'o-1', total: 12.5 }, { key: 'o-1', correlationId: 'corr-1' });
    const consumer = new Consumer({ groupId: `plain-${id}`, clientId: 'plain', bootstrapBrokers: brokersFrom(brokers()), ...{ sessionTimeout: 3000, heartbeatInterval: 300 } });
    cleanups.push(() => new Promise((resolve) => consumer.close(true, resolve)));
    const stream = await consumer.consume({ topics: [contract.channel], mode: 'earliest', maxWaitTime: 200 });
    const records = createSpy<{ key: string; value: string; headers: Record<string, string> }>();
    stream.on('data', (m) => records.fn({ key: m.key.toString(), value: m.value.toString(), headers: headersFrom(m.headers) }));
    const [record] = await records.waitForCount(1, { timeoutMs: 20_000 });
    if (wireMode === 'binary') {
      expect(record!.headers['content-type']).toBe('application/json');
      expect(record!.headers.ce_id).toBe(sent.id);
    } else {
      expect(record!.headers['content-type']).toBe('application/cloudevents+json');
      expect(Object.keys(record!.headers).filter((name) => name.startsWith('ce_'))).toEqual([]);
    }
    const kafkaMessage = { key: record!.key, value: record!.value, headers: record!.headers };
    const event = Kafka.toEvent(kafkaMessage as unknown as Parameters<typeof Kafka.toEvent>[0]) as CloudEvent<unknown>;
    const data = typeof event.data === 'string' ? JSON.parse(event.data) : event.data;
    expect({ id: event.id, type: event.type, source: event.source, specversion: event.specversion }).toEqual({
      id: sent.id,
      type: contract.type,
      source: '/interop',
      specversion: '1.0',
    });
    expect(event.datacontenttype).toBe('application/json');
    expect(event.correlationid).toBe('corr-1');
    expect(event.partitionkey).toBe('o-1');
    expect(data).toEqual({ orderId: 'o-1', total: 12.5 });
  });

  it.each(WIRE_MODES)('the bus in %s mode handles events a plain client (kafkajs) produced with the CloudEvents SDK binding, binary and structured', async (wireMode) => {
    const id = runId();
    const contract = defineEvent({ type: `interop.order.shipped.${id}`, description: 'interop', schema });
    const { bus: consumerBus } = await bus(wireMode);
    const seen = createSpy<{ id: string; data: unknown; key?: string }>();
    consumerBus.handle(contract, { group: `g-${id}` }, (event) => seen.fn({ id: event.id, data: event.data, key: event.partitionkey }));
    await consumerBus.start();
    const event = (mode: string) =>
      new CloudEvent({ id: `${mode}-${id}`, type: contract.type, source: '/kafkajs', datacontenttype: 'application/json', data: { orderId: mode, total: 3 }, partitionkey: mode });
    const binary = Kafka.binary(event('binary'));
    // The SDK's structured value is the event's JSON text; its binary value is the data object itself.
    const structured = Kafka.structured(event('structured'));
    const producer = kafkajs().producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({
      topic: contract.channel,
      messages: [
        { key: String(binary.key), value: JSON.stringify(binary.value), headers: definedHeaders(binary.headers) },
        { key: String(structured.key), value: String(structured.value), headers: definedHeaders(structured.headers) },
      ],
    });
    const got = await seen.waitForCount(2, { timeoutMs: 20_000 });
    expect(Object.fromEntries(got.map((call) => [call.id, call]))).toEqual({
      [`binary-${id}`]: { id: `binary-${id}`, data: { orderId: 'binary', total: 3 }, key: 'binary' },
      [`structured-${id}`]: { id: `structured-${id}`, data: { orderId: 'structured', total: 3 }, key: 'structured' },
    });
  });

  it('a binary-mode bus and a structured-mode bus handle each other’s events (a mixed deployment while switching)', async () => {
    const id = runId();
    const contract = defineEvent({ type: `interop.mixed.${id}`, description: 'interop', schema });
    const seen = createSpy<{ mode: string; id: string }>();
    const members = await Promise.all(WIRE_MODES.map((wireMode) => bus(wireMode)));
    for (const [n, { bus: member }] of members.entries()) {
      const mode = WIRE_MODES[n]!;
      member.handle(contract, { group: `g-${mode}-${id}` }, (event) => seen.fn({ mode, id: event.id }));
    }
    await Promise.all(members.map(({ bus: member }) => member.start()));
    const sent = await Promise.all(members.map(({ bus: member }, n) => member.publish(contract, { orderId: `mixed-${n}`, total: n })));
    const calls = await seen.waitForCount(4, { timeoutMs: 20_000 });
    for (const mode of WIRE_MODES) {
      expect(calls.filter((call) => call.mode === mode).map((call) => call.id).sort()).toEqual(sent.map((event) => event.id).sort());
    }
  });

  it('dead-letters poison produced by a plain Kafka client and keeps handling', async () => {
    const id = runId();
    const contract = defineEvent({ type: `interop.poison.${id}`, description: 'interop', schema });
    const group = `g-${id}`;
    const { bus: consumerBus, transport } = await bus();
    const handled = createSpy<string>();
    consumerBus.handle(contract, { group }, (event) => handled.fn(event.data.orderId));
    await consumerBus.start();
    const letters = createSpy<ReceivedMessage>();
    const dlt = await transport.subscribe({ group, channels: [], prefetch: 10, deadLetters: true }, async (d) => {
      letters.fn(d.message);
      await d.ack();
    });
    cleanups.push(() => dlt.close());
    const producer = kafkajs().producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const ce = { ce_specversion: '1.0', ce_source: '/kafkajs', 'content-type': 'application/json' };
    await producer.send({
      topic: contract.channel,
      messages: [
        { value: '{ not json', headers: { ...ce, ce_id: 'p1', ce_type: contract.type } },
        // No headers at all: read as a structured event (the default mode), which lacks every attribute.
        { value: JSON.stringify({ orderId: 'no-headers', total: 1 }) },
        { value: JSON.stringify({ orderId: 42 }), headers: { ...ce, ce_id: 'p3', ce_type: contract.type } },
        { value: JSON.stringify({ orderId: 'ok', total: 1 }), headers: { ...ce, ce_id: 'ok', ce_type: contract.type } },
      ],
    });
    await handled.waitFor((c) => c.includes('ok'), { timeoutMs: 20_000 });
    const dead = await letters.waitForCount(3, { timeoutMs: 20_000 });
    const reasons = dead.map((m) => m.headers[EventbusHeaders.deadLetterReason] ?? '').sort();
    expect(reasons.map((r) => r.split(':')[0])).toEqual(['malformed', 'missing-attributes', 'schema-mismatch']);
    expect(dead.find((m) => m.headers.ce_id === 'p1')?.channel).toBe(contract.channel);
    expect(handled.calls).toEqual(['ok']);
  });

  it('a rebalance under load loses nothing: consumers join and leave while 3,000 events flow', async () => {
    const id = runId();
    const contract = defineEvent({ type: `interop.rebalance.${id}`, description: 'rebalance', schema });
    const group = `g-${id}`;
    const seen = createSpy<string>();
    const member = async () => {
      const transport = testTransport(brokers(), { ...FAST_GROUP, partitions: 6 });
      const b = createEventBus({ transport, source: '/rebalance', logger: silentLogger });
      b.handle(contract, { group, concurrency: 20 }, async (event) => {
        await new Promise((r) => setTimeout(r, 1));
        seen.fn(event.id);
      });
      await b.start();
      return { bus: b, transport };
    };
    const first = await member();
    cleanups.push(() => first.bus.stop());
    const { bus: publisher } = await bus();
    const sent = new Set<string>();
    const publishing = (async () => {
      for (let i = 0; i < 60; i++) {
        const batch = Array.from({ length: 50 }, (_, j) => ({ contract, data: { orderId: `${i}-${j}`, total: j }, options: { key: `k${j % 13}` } }));
        for (const e of await publisher.publishBatch(batch)) sent.add(e.id);
      }
    })();
    const t0 = Date.now();
    const log = (what: string) => console.info(`[rebalance] ${what} at ${Date.now() - t0} ms, ${seen.count} seen, ${sent.size} sent`);
    await seen.waitForCount(300, { timeoutMs: 20_000 });
    log('second joins');
    const second = await member();
    cleanups.push(() => second.bus.stop());
    await seen.waitForCount(1200, { timeoutMs: 30_000 });
    log('third joins');
    const third = await member();
    cleanups.push(() => third.bus.stop());
    await seen.waitForCount(2000, { timeoutMs: 30_000 });
    log('second leaves');
    await second.bus.stop();
    await publishing;
    log('published');
    const got = await seen.waitFor((c) => c.length >= 3000 && new Set(c).size >= 3000, { timeoutMs: 60_000, description: 'all 3,000 events' });
    const unique = new Set(got);
    expect([...sent].filter((e) => !unique.has(e))).toEqual([]);
  }, 120_000);
});
