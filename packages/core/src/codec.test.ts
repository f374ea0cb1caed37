import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeBinary, encodeEvent, encodeStructured } from './codec.js';
import { createEnvelope, STRUCTURED_CONTENT_TYPE } from './envelope.js';
import { PoisonMessageError } from './errors.js';

const event = createEnvelope('order.placed', 2, '/shop', { orderId: 'o-1', note: 'héllo ✓' }, {
  subject: 'orders/o-1',
  causationId: 'c-1',
  correlationId: 'r-1',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  key: 'customer-9',
});

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('binary mode', () => {
  it('puts attributes in prefixed headers and only data in the body (Kafka binding)', () => {
    const { headers, body } = encodeBinary(event, 'ce_', 'content-type');
    expect(headers).toMatchObject({
      ce_specversion: '1.0',
      ce_id: event.id,
      ce_type: 'order.placed',
      ce_source: '/shop',
      ce_subject: 'orders/o-1',
      ce_correlationid: 'r-1',
      ce_causationid: 'c-1',
      ce_partitionkey: 'customer-9',
      ce_dataschema: 'urn:eventbus:order.placed:v2',
      'content-type': 'application/json',
    });
    expect(headers).not.toHaveProperty('ce_datacontenttype');
    expect(JSON.parse(text(body))).toEqual(event.data);
  });

  it('sends datacontenttype as an attribute when the binding has no content-type header (NATS)', () => {
    const { headers } = encodeBinary(event, 'ce-');
    expect(headers['ce-datacontenttype']).toBe('application/json');
  });

  it('round-trips every attribute', () => {
    for (const encoding of [
      { mode: 'binary', attributePrefix: 'cloudEvents_', contentTypeHeader: 'content-type' },
      { mode: 'binary', attributePrefix: 'ce-' },
      { mode: 'structured' },
    ] as const) {
      expect(decodeEvent(encodeEvent(event, encoding), encoding)).toEqual(event);
    }
  });

  it('reads headers case-insensitively, as HTTP-like bindings may fold them', () => {
    const { headers, body } = encodeBinary(event, 'ce-');
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(decodeEvent({ headers: upper, body }, { mode: 'binary', attributePrefix: 'ce-' }).id).toBe(event.id);
  });
});

describe('structured mode', () => {
  it('writes one JSON document with the cloudevents content type', () => {
    const { headers, body } = encodeStructured(event);
    expect(headers['content-type']).toBe(STRUCTURED_CONTENT_TYPE);
    expect(JSON.parse(text(body))).toEqual(event);
  });

  it('is read on a binary transport too (a plain client may send it)', () => {
    const encoded = encodeStructured(event);
    expect(decodeEvent(encoded, { mode: 'binary', attributePrefix: 'ce_' }).id).toBe(event.id);
  });
});

describe('a structured-mode transport that names its binding', () => {
  const amqp = { mode: 'structured', attributePrefix: 'cloudEvents_', contentTypeHeader: 'content-type' } as const;

  it('writes structured', () => {
    const { headers, body } = encodeEvent(event, amqp);
    expect(headers).toEqual({ 'content-type': STRUCTURED_CONTENT_TYPE });
    expect(JSON.parse(text(body))).toEqual(event);
  });

  it('reads its own structured messages and the binary ones plain clients send', () => {
    expect(decodeEvent(encodeStructured(event), amqp)).toEqual(event);
    expect(decodeEvent(encodeBinary(event, 'cloudEvents_', 'content-type'), amqp)).toEqual(event);
  });

  it('reads binary attributes whatever the case of their names', () => {
    const { headers, body } = encodeBinary(event, 'ce-');
    const folded = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(decodeEvent({ headers: folded, body }, { mode: 'structured', attributePrefix: 'ce-' })).toEqual(event);
  });

  it('without a prefix, reads the body as structured (today\'s SQS)', () => {
    const { body } = encodeBinary(event, 'ce_', 'content-type');
    expect(() => decodeEvent({ headers: { ce_specversion: '1.0' }, body }, { mode: 'structured' })).toThrow(PoisonMessageError);
  });

  it('fills the defaults of a minimal structured event', () => {
    const minimal = { specversion: '1.0', id: 'e-1', source: '/s', type: 't.x' };
    const decoded = decodeEvent({ headers: {}, body: Buffer.from(JSON.stringify(minimal)) }, amqp);
    expect(decoded).toEqual({ ...minimal, time: '', datacontenttype: 'application/json', data: null });
  });
});

describe('poison input', () => {
  const binary = { mode: 'binary', attributePrefix: 'ce_' } as const;
  const reason = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(PoisonMessageError);
      return (error as PoisonMessageError).reason;
    }
    throw new Error('expected a PoisonMessageError');
  };

  it('a body that is not JSON is malformed', () => {
    const { headers } = encodeBinary(event, 'ce_');
    expect(reason(() => decodeEvent({ headers, body: new TextEncoder().encode('{nope') }, binary))).toBe('malformed');
  });

  it('bytes that are not UTF-8 are malformed', () => {
    const { headers } = encodeBinary(event, 'ce_');
    expect(reason(() => decodeEvent({ headers, body: new Uint8Array([0xff, 0xfe, 0xfd]) }, binary))).toBe('malformed');
  });

  it('a message with no CloudEvents headers is missing attributes', () => {
    expect(reason(() => decodeEvent({ headers: {}, body: new TextEncoder().encode('{}') }, binary))).toBe('missing-attributes');
  });

  it('a structured event without an id is missing attributes', () => {
    const { id: _id, ...rest } = event;
    const body = new TextEncoder().encode(JSON.stringify(rest));
    expect(reason(() => decodeEvent({ headers: {}, body }, { mode: 'structured' }))).toBe('missing-attributes');
  });

  it('an unknown specversion is refused', () => {
    const { headers, body } = encodeBinary(event, 'ce_');
    expect(reason(() => decodeEvent({ headers: { ...headers, ce_specversion: '0.3' }, body }, binary))).toBe('missing-attributes');
  });

  it('a structured document that is an array is malformed', () => {
    expect(reason(() => decodeEvent({ headers: {}, body: new TextEncoder().encode('[1]') }, { mode: 'structured' }))).toBe(
      'malformed',
    );
  });

  it('non-JSON data content is refused', () => {
    const { headers, body } = encodeBinary(event, 'ce_', 'content-type');
    expect(reason(() => decodeEvent({ headers: { ...headers, 'content-type': 'text/plain' }, body }, binary))).toBe('malformed');
  });
});
