import { ConfigError, createEventBus, defineEvent, EventbusHeaders } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { AckPolicy, DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { CloudEvent } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fromUrl, NatsTransport } from '../src/index.js';
import { streamNameFor } from '../src/options.js';
import { URL_VARIABLE, withPlainClient } from './helpers.js';

const STRUCTURED = 'application/cloudevents+json';
const WIRE_MODES = ['structured', 'binary'] as const;

/*
 * The CloudEvents SDK has no NATS binding: a plain program lays its events out by the NATS binding
 * by hand (binary: `ce-` headers, the data alone in the body; structured: the SDK's JSON event
 * format as the body) and reads ours back into the SDK's CloudEvent, whose constructor validates
 * every attribute.
 */
function natsBinary(event: CloudEvent<unknown>): { body: string; headers: MsgHdrs } {
  const h = headers();
  for (const [name, value] of Object.entries(event.toJSON())) if (name !== 'data' && value !== undefined) h.set(`ce-${name}`, String(value));
  return { body: JSON.stringify(event.data), headers: h };
}

function natsStructured(event: CloudEvent<unknown>): { body: string; headers: MsgHdrs } {
  const h = headers();
  h.set('content-type', STRUCTURED);
  return { body: JSON.stringify(event), headers: h };
}

function cloudEventFrom(msg: JsMsg): CloudEvent<unknown> {
  if (msg.headers?.get('content-type') === STRUCTURED) return new CloudEvent(msg.json<Record<string, unknown>>());
  const attributes: Record<string, unknown> = { data: msg.json() };
  for (const name of msg.headers?.keys() ?? []) if (name.startsWith('ce-')) attributes[name.slice(3)] = msg.headers!.get(name);
  return new CloudEvent(attributes);
}

describe('nats wireMode option', () => {
  it('is structured by default, binary when asked (also from the URL query), and a ConfigError naming it otherwise', () => {
    expect(fromUrl('nats://127.0.0.1:4222').capabilities.encoding.mode).toBe('structured');
    expect(fromUrl('nats://127.0.0.1:4222?wireMode=binary').capabilities.encoding).toEqual({ mode: 'binary', attributePrefix: 'ce-' });
    expect(fromUrl('nats://127.0.0.1:4222', { wireMode: 'binary' }).capabilities.encoding.mode).toBe('binary');
    expect(() => new NatsTransport({ servers: 'nats://127.0.0.1:4222', wireMode: 'proto' as 'binary' })).toThrow(ConfigError);
    expect(() => fromUrl('nats://127.0.0.1:4222?wireMode=proto')).toThrow(/`wireMode`: must be "structured" or "binary" \(got "proto"\)/);
  });
});

const Launched = defineEvent({
  type: 'interop.instance.launched',
  version: 1,
  description: 'an instance is running',
  schema: z.object({ instanceId: z.string(), note: z.string() }),
  channel: 'interop.launched',
});

describeBroker('NATS interop with a plain @nats-io client', { variable: URL_VARIABLE }, (url) => {
  const { fixture, client } = withPlainClient(url);

  /** The next message on the channel after the bus publishes, read by a plain JetStream consumer of its own. */
  async function plainRead(wireMode: (typeof WIRE_MODES)[number], publish: (bus: ReturnType<typeof createEventBus>) => Promise<{ id: string }>) {
    const bus = createEventBus({ transport: fixture.transport({ wireMode }), source: '/interop' });
    await bus.transport.connect();
    const jsm = await jetstreamManager(client());
    const stream = streamNameFor(fixture.prefix);
    const durable = fixture.name('plain-reader');
    await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: `${fixture.prefix}.interop.launched`, deliver_policy: DeliverPolicy.New });
    const sent = await publish(bus);
    const consumer = await jetstream(client()).consumers.get(stream, durable);
    const msg = await consumer.next({ expires: 5000 });
    expect(msg).not.toBeNull();
    msg!.ack();
    await bus.stop();
    return { sent, msg: msg! };
  }

  it('a plain client reads what the bus writes by default: one structured CloudEvent body', async () => {
    const { sent, msg } = await plainRead('structured', (bus) => bus.publish(Launched, { instanceId: 'i-0', note: 'prêt ✓' }, { key: 'i-0' }));
    expect(msg.headers?.get('content-type')).toBe(STRUCTURED);
    expect(msg.headers?.keys().filter((name) => name.startsWith('ce-'))).toEqual([]);
    const event = cloudEventFrom(msg);
    expect({ id: event.id, type: event.type, source: event.source, datacontenttype: event.datacontenttype }).toEqual({
      id: sent.id,
      type: 'interop.instance.launched',
      source: '/interop',
      datacontenttype: 'application/json',
    });
    expect(event.partitionkey).toBe('i-0');
    expect(event.data).toEqual({ instanceId: 'i-0', note: 'prêt ✓' });
  });

  it('a plain client reads what the bus writes in binary mode: ce- headers, datacontenttype, JSON body', async () => {
    const { sent, msg } = await plainRead('binary', (bus) => bus.publish(Launched, { instanceId: 'i-123', note: 'prêt ✓' }, { key: 'i-123' }));
    expect(cloudEventFrom(msg)).toMatchObject({ id: sent.id, source: '/interop', partitionkey: 'i-123', data: { instanceId: 'i-123', note: 'prêt ✓' } });
    expect(msg.subject).toBe(`${fixture.prefix}.interop.launched`);
    expect(msg.headers?.get('ce-id')).toBe(sent.id);
    expect(msg.headers?.get('ce-type')).toBe('interop.instance.launched');
    expect(msg.headers?.get('ce-specversion')).toBe('1.0');
    expect(msg.headers?.get('ce-source')).toBe('/interop');
    expect(msg.headers?.get('ce-datacontenttype')).toBe('application/json');
    expect(msg.headers?.get('ce-partitionkey')).toBe('i-123');
    expect(msg.headers?.get('Nats-Msg-Id')).toBe(sent.id);
    expect(msg.json()).toEqual({ instanceId: 'i-123', note: 'prêt ✓' });
  });

  it.each(WIRE_MODES)('the bus in %s mode handles SDK events a plain client wrote in binary and in structured mode', async (wireMode) => {
    const bus = createEventBus({ transport: fixture.transport({ wireMode }), source: '/interop' });
    const handled = createSpy<{ id: string; data: unknown }>();
    bus.handle(Launched, { group: fixture.name(`sdk-${wireMode}`) }, (event) => handled.fn({ id: event.id, data: event.data }));
    await bus.start();
    const sdkEvent = (mode: string) =>
      new CloudEvent({ id: `${mode}-${wireMode}`, source: '/plain/sdk', type: Launched.type, datacontenttype: 'application/json', data: { instanceId: mode, note: 'sdk' } });
    const subject = `${fixture.prefix}.interop.launched`;
    for (const { body, headers: h } of [natsBinary(sdkEvent('binary')), natsStructured(sdkEvent('structured'))]) {
      await jetstream(client()).publish(subject, body, { headers: h });
    }
    const calls = await handled.waitFor((c) => c.filter((call) => call.id.endsWith(`-${wireMode}`)).length >= 2);
    expect(Object.fromEntries(calls.filter((call) => call.id.endsWith(`-${wireMode}`)).map((call) => [call.id, call.data]))).toEqual({
      [`binary-${wireMode}`]: { instanceId: 'binary', note: 'sdk' },
      [`structured-${wireMode}`]: { instanceId: 'structured', note: 'sdk' },
    });
    await bus.stop();
  });

  it('a binary-mode bus and a structured-mode bus handle each other’s events (a mixed deployment while switching)', async () => {
    const seen = createSpy<{ mode: string; id: string }>();
    const buses = WIRE_MODES.map((wireMode) => {
      const bus = createEventBus({ transport: fixture.transport({ wireMode }), source: `/${wireMode}` });
      bus.handle(Launched, { group: fixture.name(`mixed-${wireMode}`) }, (event) => {
        if (event.data.note === 'mixed') seen.fn({ mode: wireMode, id: event.id });
      });
      return bus;
    });
    for (const bus of buses) await bus.start();
    const sent = await Promise.all(buses.map((bus, n) => bus.publish(Launched, { instanceId: `i-${n}`, note: 'mixed' })));
    const calls = await seen.waitForCount(4);
    for (const mode of WIRE_MODES) {
      expect(calls.filter((call) => call.mode === mode).map((call) => call.id).sort()).toEqual(sent.map((event) => event.id).sort());
    }
    for (const bus of buses) await bus.stop();
  });

  it('the bus handles what a plain client writes, and dead-letters a plain client’s poison, still running', async () => {
    const bus = createEventBus({ transport: fixture.transport(), source: '/interop' });
    const group = fixture.name('interop');
    const handled = createSpy<string>();
    bus.handle(Launched, { group }, (event) => handled.fn(event.data.instanceId));
    await bus.start();
    const dead = createSpy<Record<string, string>>();
    const reader = fixture.transport();
    await reader.subscribe({ group, channels: [], prefetch: 10, deadLetters: true }, async (d) => {
      dead.fn(d.message.headers);
      await d.ack();
    });
    const subject = `${fixture.prefix}.interop.launched`;
    const h = headers();
    for (const [k, v] of Object.entries({
      'ce-specversion': '1.0',
      'ce-id': 'plain-1',
      'ce-source': '/plain',
      'ce-type': 'interop.instance.launched',
      'ce-datacontenttype': 'application/json',
    })) {
      h.set(k, v);
    }
    await jetstream(client()).publish(subject, JSON.stringify({ instanceId: 'i-plain', note: 'from a plain client' }), { headers: h });
    // Poison from a plain core-NATS publish (no JetStream ack, no headers at all), then a wrong type.
    client().publish(subject, 'not json {');
    const unknown = headers();
    for (const [k, v] of Object.entries({ 'ce-specversion': '1.0', 'ce-id': 'plain-2', 'ce-source': '/plain', 'ce-type': 'nobody.knows' })) unknown.set(k, v);
    client().publish(subject, '{}', { headers: unknown });
    await client().flush();
    await handled.waitFor((c) => c.includes('i-plain'));
    const reasons = (await dead.waitForCount(2)).map((d) => d[EventbusHeaders.deadLetterReason]);
    expect(reasons.some((r) => /missing CloudEvents attribute|not JSON/.test(r ?? ''))).toBe(true);
    expect(reasons.some((r) => /nobody\.knows/.test(r ?? ''))).toBe(true);
    await jetstream(client()).publish(subject, JSON.stringify({ instanceId: 'i-after', note: 'still running' }), {
      headers: (() => {
        const after = headers();
        for (const [k, v] of Object.entries({ 'ce-specversion': '1.0', 'ce-id': 'plain-3', 'ce-source': '/plain', 'ce-type': 'interop.instance.launched' })) after.set(k, v);
        return after;
      })(),
    });
    await handled.waitFor((c) => c.includes('i-after'));
    await bus.stop();
  });
});
