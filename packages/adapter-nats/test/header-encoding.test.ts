import type { Delivery } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { streamNameFor } from '../src/options.js';
import { decodeHeaderValue, encodeHeaderValue } from '../src/wire.js';
import { cloudEventMessage, URL_VARIABLE, withPlainClient } from './helpers.js';

describe('NATS header values (CloudEvents NATS binding 3.1.3.2)', () => {
  it('percent-encodes space, double quote, percent, controls and non-ASCII as upper-case UTF-8 bytes', () => {
    expect(encodeHeaderValue('/orders/42')).toBe('/orders/42');
    expect(encodeHeaderValue(' a "b" 100%')).toBe('%20a%20%22b%22%20100%25');
    expect(encodeHeaderValue('é✓\r\n\u007f')).toBe('%C3%A9%E2%9C%93%0D%0A%7F');
    expect(encodeHeaderValue('😀')).toBe('%F0%9F%98%80');
  });

  it('decodes lower-case and needless escapes, unquotes quoted strings, and keeps what is not an escape', () => {
    expect(decodeHeaderValue('%c3%a9%41')).toBe('éA');
    expect(decodeHeaderValue('"quoted \\"value\\""')).toBe('quoted "value"');
    expect(decodeHeaderValue('100%')).toBe('100%');
    expect(decodeHeaderValue('50%zz')).toBe('50%zz');
    // Raw UTF-8 from a client that never encoded stays as it was.
    expect(decodeHeaderValue('välue 日本')).toBe('välue 日本');
    // %C0%A0 is an overlong encoding, not UTF-8: the value is kept as received.
    expect(decodeHeaderValue('%C0%A0')).toBe('%C0%A0');
    for (const value of ['', ' lead and trail ', 'line\r\nbreak', '%41 is not A', '"', 'välue ✓ 日本 😀']) {
      expect(decodeHeaderValue(encodeHeaderValue(value))).toBe(value);
    }
  });
});

describeBroker('NATS header values against a plain @nats-io client', { variable: URL_VARIABLE }, (url) => {
  const { fixture, client } = withPlainClient(url);

  it('a plain reader sees percent-encoded values and decodes them to what was sent', async () => {
    const transport = fixture.transport();
    await transport.connect();
    const channel = fixture.name('enc');
    const jsm = await jetstreamManager(client());
    await jsm.consumers.add(streamNameFor(fixture.prefix), {
      durable_name: 'plain-enc-reader',
      ack_policy: AckPolicy.Explicit,
      filter_subject: `${fixture.prefix}.${channel}`,
    });
    const message = cloudEventMessage(channel, 1);
    message.headers['ce-source'] = '/billing service/"eu"';
    message.headers['ce-subject'] = ' 100% Café ✓\r\n';
    await transport.publish([message]);
    const msg = await (await jetstream(client()).consumers.get(streamNameFor(fixture.prefix), 'plain-enc-reader')).next({ expires: 5000 });
    msg!.ack();
    expect(msg!.headers?.get('ce-source')).toBe('/billing%20service/%22eu%22');
    expect(msg!.headers?.get('ce-subject')).toBe('%20100%25%20Caf%C3%A9%20%E2%9C%93%0D%0A');
    expect(decodeURIComponent(msg!.headers!.get('ce-subject'))).toBe(' 100% Café ✓\r\n');
    expect(msg!.headers?.get('ce-id')).toBe(message.id);
  });

  it('the bus decodes what a plain client percent-encoded, and keeps values it never encoded', async () => {
    const transport = fixture.transport();
    const channel = fixture.name('dec');
    const received = createSpy<Delivery>();
    await transport.subscribe({ group: fixture.name('dec'), channels: [channel], prefetch: 5 }, async (d) => {
      received.fn(d);
      await d.ack();
    });
    const h = natsHeaders();
    const sent = {
      'ce-specversion': '1.0',
      'ce-id': 'plain%2Denc',
      'ce-source': '/plain%20client/%e2%9c%93',
      'ce-type': 'test.event',
      'ce-subject': '"quoted subject"',
      'x-note': '100% raw',
      'x-unicode': 'välue 日本',
    };
    for (const [k, v] of Object.entries(sent)) h.set(k, v);
    await jetstream(client()).publish(`${fixture.prefix}.${channel}`, '{}', { headers: h });
    const [delivery] = await received.waitForCount(1);
    expect(delivery!.message.headers).toMatchObject({
      'ce-id': 'plain-enc',
      'ce-source': '/plain client/✓',
      'ce-subject': 'quoted subject',
      'x-note': '100% raw',
      'x-unicode': 'välue 日本',
    });
  });
});
