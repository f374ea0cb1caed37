import { EventbusHeaders } from '@org/eventbus';
import { describe, expect, it } from 'vitest';
import { HeaderDecoder, HeaderEncoder, HOLD_UNTIL_HEADER, HOP_UNTIL_HEADER, holdTargets, type KafkaMessage, RETRY_CHANNEL_HEADER, RecordReader, RecordWriter } from '../src/wire.js';

/** What @platformatic/kafka hands a consumer: header names and values as views into one response buffer. */
function received(headers: Map<Buffer, Buffer>, fields: Partial<KafkaMessage> = {}): KafkaMessage {
  const parts: Buffer[] = [];
  for (const [k, v] of headers) parts.push(k, v);
  const response = Buffer.concat(parts);
  const views = new Map<Buffer, Buffer>();
  let at = 0;
  for (const [k, v] of headers) {
    const name = response.subarray(at, at + k.length);
    at += k.length;
    views.set(name, response.subarray(at, at + v.length));
    at += v.length;
  }
  return { topic: 'orders', partition: 0, offset: 0n, key: null, value: Buffer.from('{}'), headers: views, ...fields } as unknown as KafkaMessage;
}

function roundTrip(writer: RecordWriter, reader: RecordReader, headers: Record<string, string>) {
  const record = writer.record('orders', { headers, body: Buffer.from('{}') });
  return reader.entry(received(record.headers as Map<Buffer, Buffer>)).message.headers;
}

describe('kafka record headers', () => {
  it('round trip unchanged over many records: repeating, changing, unicode, empty and many headers', () => {
    const writer = new RecordWriter();
    const reader = new RecordReader('');
    const many = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`x-${i}`, i % 2 ? 'same' : `v${i}`]));
    for (let n = 0; n < 50; n++) {
      const headers: Record<string, string> = {
        ce_specversion: '1.0',
        ce_id: `id-${n}`,
        ce_type: n % 3 === 0 ? 'a.b' : 'a.c',
        'ünïcødé-名前': `väl-${n % 2}-😀`,
        empty: '',
        ...(n % 5 === 0 ? many : {}),
        ...(n % 7 === 0 ? { ['long'.repeat(50)]: 'y'.repeat(300 + n) } : {}),
      };
      expect(roundTrip(writer, reader, headers)).toEqual(headers);
    }
  });

  it('reads the same bytes in different header orders and layouts as the right names', () => {
    const writer = new RecordWriter();
    const reader = new RecordReader('');
    expect(roundTrip(writer, reader, { a: '1', b: '2' })).toEqual({ a: '1', b: '2' });
    expect(roundTrip(writer, reader, { b: '2', a: '1' })).toEqual({ b: '2', a: '1' });
    expect(roundTrip(writer, reader, { a: '2', c: '1' })).toEqual({ a: '2', c: '1' });
    expect(roundTrip(writer, reader, { ab: '', c: '1' })).toEqual({ ab: '', c: '1' });
  });

  it('reuses the Buffer of a repeated value and counts bytes as UTF-8', () => {
    const encoder = new HeaderEncoder();
    const first = encoder.encode({ ce_type: 'order.placed', ce_id: '1' });
    const second = encoder.encode({ ce_type: 'order.placed', ce_id: '2', név: 'é' });
    const values = (m: Map<Buffer, Buffer>) => [...m.values()];
    expect(values(second)[0]).toBe(values(first)[0]);
    expect(values(second)[1]).not.toBe(values(first)[1]);
    expect(encoder.bytes).toBe('ce_type'.length + 'order.placed'.length + 'ce_id'.length + 1 + Buffer.byteLength('név') + 2);
  });

  it('keeps copies, never views into a fetch response (a view would keep it alive and read what is written there later)', () => {
    const decoder = new HeaderDecoder();
    const response = Buffer.from('namevalue');
    const name = response.subarray(0, 4);
    const value = response.subarray(4);
    expect(decoder.slot(0, name).read(value)).toBe('value');
    response.write('VALUE', 4); // the same memory now holds another value
    expect(decoder.slot(0, Buffer.from('name')).read(Buffer.from('VALUE'))).toBe('VALUE');
    response.write('NAME'); // and another name
    const slot = decoder.slot(0, Buffer.from('NAME'));
    expect(slot.name).toBe('NAME');
    expect(slot.read(Buffer.from('VALUE'))).toBe('VALUE');
  });

  it('reads a value that differs on every record right after it stops caching it', () => {
    const decoder = new HeaderDecoder();
    for (let n = 0; n < 20; n++) expect(decoder.slot(0, Buffer.from('ce_id')).read(Buffer.from(`id-${n}`))).toBe(`id-${n}`);
    expect(decoder.slot(0, Buffer.from('ce_id')).read(Buffer.from('id-3'))).toBe('id-3');
  });

  it('takes the retry headers out and gives the bus its own channel, key and attempt', () => {
    const reader = new RecordReader('staging.');
    const writer = new RecordWriter();
    const record = writer.record('staging.g.retry', {
      key: 'k-1',
      headers: { ce_id: '1', [RETRY_CHANNEL_HEADER]: 'orders', [EventbusHeaders.notBefore]: '1234', [EventbusHeaders.attempt]: '3' },
      body: Buffer.from('{}'),
    });
    const entry = reader.entry(received(record.headers as Map<Buffer, Buffer>, { topic: 'staging.g.retry', key: record.key! }));
    // A retry record without a hop time is held by its not-before, which is then served: left out.
    expect(entry.message).toEqual({ channel: 'orders', key: 'k-1', headers: { ce_id: '1', [EventbusHeaders.attempt]: '3' }, body: Buffer.from('{}') });
    expect(entry.attempt).toBe(3);
    expect(entry.notBefore).toBe(1234);
    expect(holdTargets.get(entry.message)).toBeUndefined();
    const hop = writer.record('staging.g.retry.4s', {
      headers: { [RETRY_CHANNEL_HEADER]: 'orders', [EventbusHeaders.notBefore]: '9000', [HOP_UNTIL_HEADER]: '5000', [HOLD_UNTIL_HEADER]: '8000' },
      body: Buffer.from('{}'),
    });
    const held = reader.entry(received(hop.headers as Map<Buffer, Buffer>, { topic: 'staging.g.retry.4s' }));
    // Beyond the hold (maxDelayMs): passed on for core to defer again.
    expect(held.message.headers).toEqual({ [EventbusHeaders.notBefore]: '9000' });
    expect(held.notBefore).toBe(5000);
    expect(holdTargets.get(held.message)).toBe(8000);
    // Held to its not-before: nothing left for core to see.
    const served = writer.record('staging.g.retry.4s', {
      headers: { [RETRY_CHANNEL_HEADER]: 'orders', [EventbusHeaders.notBefore]: '8000', [HOP_UNTIL_HEADER]: '5000', [HOLD_UNTIL_HEADER]: '8000' },
      body: Buffer.from('{}'),
    });
    expect(reader.entry(received(served.headers as Map<Buffer, Buffer>, { topic: 'staging.g.retry.4s' })).message.headers).toEqual({});
    const plain = reader.entry(received(new Map(), { topic: 'staging.orders' }));
    expect(plain.message).toEqual({ channel: 'orders', headers: {}, body: Buffer.from('{}') });
    expect('key' in plain.message).toBe(false);
  });

  it('sizes a record as the limit counts it: body and headers, key and framing for the request', () => {
    const writer = new RecordWriter();
    writer.record('t', { headers: { a: 'é' }, body: new Uint8Array(10) });
    expect(writer.size).toBe(10 + 1 + 2);
    const withKey = writer.record('t', { key: 'kk', headers: { a: 'é' }, body: new Uint8Array(10) });
    expect(withKey.key).toEqual(Buffer.from('kk'));
    expect(writer.requestBytes).toBeGreaterThan(writer.size + 2);
  });
});
