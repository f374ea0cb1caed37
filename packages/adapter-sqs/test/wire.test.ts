import { ConfigError, EventbusHeaders } from '@org/eventbus';
import { describe, expect, it } from 'vitest';
import { fromWire, SQS_MAX_MESSAGE_BYTES, toWire } from '../src/attributes.js';
import { awsError, PublishBatchError } from '../src/errors.js';
import { adapter, fromUrl, parseSqsUrl, resourceName, SqsTransport, schemes } from '../src/index.js';
import { chunk } from '../src/publisher.js';
import { fifoId, heldRemainingMs, sendDelaySeconds } from '../src/wire.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('sqs:// URLs', () => {
  it('reads region, endpoint and options from the URL', () => {
    expect(parseSqsUrl('sqs://eu-west-1?endpoint=http://127.0.0.1:4566&prefix=app-&fifo=true&manage=false&visibilityTimeout=5')).toEqual({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4566',
      prefix: 'app-',
      fifo: true,
      manage: false,
      visibilityTimeoutSeconds: 5,
    });
    const t = fromUrl('sqs://us-east-2?prefix=x-', { drainTimeoutMs: 10 });
    expect(t.options).toMatchObject({ region: 'us-east-2', prefix: 'x-', drainTimeoutMs: 10, credentials: undefined });
    expect(t.capabilities.encoding).toEqual({ mode: 'structured' });
    void t.close();
  });

  it('is the adapter createTransport finds for sqs://', () => {
    expect(adapter).toMatchObject({ name: 'sqs', schemes: ['sqs'], fromUrl });
    expect(schemes).toEqual(['sqs']);
  });

  it('names a bad parameter, and never echoes a secret', () => {
    expect(() => parseSqsUrl('sqs://us-east-1?prefx=a')).toThrow(/`url\?prefx`: unknown parameter/);
    expect(() => parseSqsUrl('sqs://us-east-1?fifo=maybe')).toThrow(ConfigError);
    expect(() => fromUrl('sqs://us-east-1?waitTime=60')).toThrow(/`waitTimeSeconds`/);
    let message = '';
    try {
      fromUrl('sqs://AKIAEXAMPLE:wJalrXUtnFEMI-SECRET@us_east');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/`region`/);
    expect(message).not.toContain('wJalrXUtnFEMI-SECRET');
    expect(() => parseSqsUrl('not a url AKIA:wJalrXUtnFEMI-SECRET@')).toThrow(/^Invalid option `url`: is not a valid URL; expected sqs:/);
    expect(() => parseSqsUrl('not a url AKIA:wJalrXUtnFEMI-SECRET@')).not.toThrow(/SECRET/);
  });

  it('uses dummy credentials for a loopback emulator only', () => {
    expect(new SqsTransport({ endpoint: 'http://127.0.0.1:4566' }).options.credentials?.accessKeyId).toBe('eventbus-emulator');
    expect(new SqsTransport({ endpoint: 'https://sqs.eu-west-1.amazonaws.com' }).options.credentials).toBeUndefined();
    expect(() => new SqsTransport({ prefix: 'bad.prefix' })).toThrow(/`prefix`/);
    expect(() => new SqsTransport({ publishTo: 'queue' })).toThrow(/`directGroups`/);
  });
});

describe('resource names', () => {
  it('keeps valid names, and hashes what it had to change so names never collide', () => {
    expect(resourceName('eb-', 'billing', false)).toBe('eb-billing');
    expect(resourceName('eb-', 'billing', true)).toBe('eb-billing.fifo');
    const dotted = resourceName('eb-', 'ec2.launch.requested', false);
    expect(dotted).toMatch(/^eb-ec2_launch_requested-[0-9a-f]{8}$/);
    expect(dotted).not.toBe(resourceName('eb-', 'ec2_launch_requested', false));
    expect(resourceName('eb-', 'x'.repeat(200), true).length).toBeLessThanOrEqual(80 - 4);
  });
});

describe('wire layout', () => {
  it('puts headers in attributes one by one when they fit', () => {
    const wire = toWire({ channel: 'c', key: 'k', headers: { 'content-type': 'application/cloudevents+json' }, body: bytes('{"a":1}') });
    expect(Object.keys(wire.attributes).sort()).toEqual(['content-type', 'eventbus-channel', 'eventbus-key']);
    expect(wire.body).toBe('{"a":1}');
    expect(fromWire(wire.body, wire.attributes)).toEqual({
      channel: 'c',
      key: 'k',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: bytes('{"a":1}'),
    });
  });

  it('falls back to one JSON attribute and base64 for what SQS would refuse', () => {
    const headers = { '': 'empty name', x: '', 'eventbus-channel': 'spoof', 'bad\u0001': '\uFFFF' };
    const body = new Uint8Array([0xff, 0x00, 0x01]);
    const wire = toWire({ channel: 'c', headers, body });
    expect(Object.keys(wire.attributes).sort()).toEqual(['eventbus-body-encoding', 'eventbus-channel', 'eventbus-headers']);
    const json = wire.attributes['eventbus-headers']!.StringValue!;
    expect(json.includes('\uFFFF') || json.includes('\u0001')).toBe(false);
    const back = fromWire(wire.body, wire.attributes);
    expect(back.headers).toEqual(headers);
    expect([...back.body]).toEqual([0xff, 0x00, 0x01]);
  });

  it('keeps FIFO group ids SQS accepts and hashes the rest, one key to one id', () => {
    expect(fifoId('order-42')).toBe('order-42');
    expect(fifoId('clé avec espace')).toMatch(/^[0-9a-f]{64}$/);
    expect(fifoId('clé avec espace')).toBe(fifoId('clé avec espace'));
    expect(fifoId('x'.repeat(129))).toHaveLength(64);
  });

  it('counts size as SQS does, and splits batches at 10 entries or 256 KiB', () => {
    const wire = toWire({ channel: 'ch', headers: { h: 'v' }, body: bytes('body') });
    expect(wire.size).toBe(4 + ('eventbus-channel'.length + 6 + 2) + (1 + 6 + 1));
    const small = Array.from({ length: 25 }, () => ({ wire }));
    expect(chunk(small).map((c) => c.length)).toEqual([10, 10, 5]);
    const big = Array.from({ length: 3 }, () => ({ wire: { ...wire, size: SQS_MAX_MESSAGE_BYTES / 2 } }));
    expect(chunk(big).map((c) => c.length)).toEqual([2, 1]);
  });
});

describe('errors', () => {
  it('never carries a secret in the message, whatever the SDK said', () => {
    const sdk = Object.assign(new Error('bad request to http://AKIAX:s3cr3tValue@host?X-Amz-Signature=abcdef secretAccessKey=s3cr3tValue'), {
      name: 'InvalidClientTokenId',
    });
    const error = awsError('publishing to SNS topic "t"', sdk);
    expect(error.message).toMatch(/^publishing to SNS topic "t" failed \(InvalidClientTokenId\): /);
    expect(error.message).not.toMatch(/s3cr3tValue|abcdef/);
    expect(error.cause).toBe(sdk);
    const batch = new PublishBatchError([{ id: 'e1', code: 'InternalError', message: 'at /?X-Amz-Security-Token=s3cr3tValue', senderFault: false }], 3);
    expect(batch.name).toBe('PublishBatchError');
    expect(batch.message).toBe('1 of 3 message(s) were refused: e1: InternalError at /?X-Amz-Security-Token=***');
  });
});

describe('delayed copies', () => {
  const now = 1_000_000;
  it('take whole seconds rounded down (the subscription waits out the rest), at most 900 s and maxDelayMs', () => {
    expect(sendDelaySeconds(undefined, 2_147_483_647, now)).toBe(0);
    expect(sendDelaySeconds(now - 5, 2_147_483_647, now)).toBe(0);
    expect(sendDelaySeconds(now + 999, 2_147_483_647, now)).toBe(0);
    expect(sendDelaySeconds(now + 2_999, 2_147_483_647, now)).toBe(2);
    expect(sendDelaySeconds(now + 3_600_000, 2_147_483_647, now)).toBe(900);
    expect(sendDelaySeconds(now + 3_600_000, 1_500, now)).toBe(1);
  });

  it('are held until the later of the scheduled time and the deferral, beyond the clock tolerance', () => {
    const message = (headers: Record<string, string>) => ({ channel: 'c', headers, body: new Uint8Array() });
    expect(heldRemainingMs(message({}), now)).toBe(0);
    expect(heldRemainingMs(message({ [EventbusHeaders.deliverAt]: String(now + 3) }), now)).toBe(0);
    expect(heldRemainingMs(message({ [EventbusHeaders.deliverAt]: String(now + 700) }), now)).toBe(700);
    expect(heldRemainingMs(message({ [EventbusHeaders.deliverAt]: String(now + 700), [EventbusHeaders.notBefore]: String(now + 2_000) }), now)).toBe(2_000);
  });
});
