import { createEventBus, defineEvent, EventbusHeaders } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { streamNameFor } from '../src/options.js';
import { URL_VARIABLE, withPlainClient } from './helpers.js';

const Launched = defineEvent({
  type: 'interop.instance.launched',
  version: 1,
  description: 'an instance is running',
  schema: z.object({ instanceId: z.string(), note: z.string() }),
  channel: 'interop.launched',
});

describeBroker('NATS interop with a plain @nats-io client', { variable: URL_VARIABLE }, (url) => {
  const { fixture, client } = withPlainClient(url);

  it('a plain client reads what the bus writes: ce- headers, datacontenttype, JSON body', async () => {
    const bus = createEventBus({ transport: fixture.transport(), source: '/interop' });
    await bus.transport.connect();
    const jsm = await jetstreamManager(client());
    const stream = streamNameFor(fixture.prefix);
    await jsm.consumers.add(stream, { durable_name: 'plain-reader', ack_policy: AckPolicy.Explicit, filter_subject: `${fixture.prefix}.interop.launched` });
    const sent = await bus.publish(Launched, { instanceId: 'i-123', note: 'prêt ✓' }, { key: 'i-123' });
    const consumer = await jetstream(client()).consumers.get(stream, 'plain-reader');
    const msg = await consumer.next({ expires: 5000 });
    expect(msg).not.toBeNull();
    msg!.ack();
    expect(msg!.subject).toBe(`${fixture.prefix}.interop.launched`);
    expect(msg!.headers?.get('ce-id')).toBe(sent.id);
    expect(msg!.headers?.get('ce-type')).toBe('interop.instance.launched');
    expect(msg!.headers?.get('ce-specversion')).toBe('1.0');
    expect(msg!.headers?.get('ce-source')).toBe('/interop');
    expect(msg!.headers?.get('ce-datacontenttype')).toBe('application/json');
    expect(msg!.headers?.get('ce-partitionkey')).toBe('i-123');
    expect(msg!.headers?.get('Nats-Msg-Id')).toBe(sent.id);
    expect(msg!.json()).toEqual({ instanceId: 'i-123', note: 'prêt ✓' });
    await bus.stop();
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
