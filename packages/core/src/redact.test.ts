import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { safeLogger } from './logger.js';
import { redact, redactError, redactValue } from './redact.js';

describe('redact', () => {
  it.each([
    ['amqp://guest:s3cret@127.0.0.1:5672/vhost', 'amqp://guest:***@127.0.0.1:5672/vhost'],
    ['failed to reach amqps://user:p%40ss@mq.example:5671', 'failed to reach amqps://user:***@mq.example:5671'],
    ['redis://:hunter2@127.0.0.1:6379', 'redis://:***@127.0.0.1:6379'],
    ['nats://token@127.0.0.1:4222', 'nats://***@127.0.0.1:4222'],
    ['sqs://eu-west-1?endpoint=http://x&secretAccessKey=abc&accessKeyId=AKIA', 'sqs://eu-west-1?endpoint=http://x&secretAccessKey=***&accessKeyId=***'],
    ['{"secretAccessKey":"wJalrXUtnFEMI"}', '{"secretAccessKey":"***"}'],
    ['kafka://127.0.0.1:9092', 'kafka://127.0.0.1:9092'],
    ['auth failed token=abc123 password=hunter2', 'auth failed token=*** password=***'],
  ])('%s', (input, output) => {
    expect(redact(input)).toBe(output);
  });

  it('cleans an error message and stack', () => {
    const error = redactError(new Error('connect ECONNREFUSED amqp://u:pw@h'));
    expect(error.message).not.toContain('pw');
    expect(error.stack).not.toContain(':pw@');
  });

  it('no log line carries a password, whoever wrote it', () => {
    const lines: string[] = [];
    const record = (obj: object, msg?: string) => lines.push(JSON.stringify({ obj, msg }, (_k, v) => (v instanceof Error ? v.message : v)));
    const logger = safeLogger({ debug: record, info: record, warn: record, error: record });
    logger.error({ url: 'amqp://a:topsecret@h', err: new Error('bad amqp://a:topsecret@h'), nested: { u: 'nats://x:topsecret@h' } }, 'at amqp://a:topsecret@h');
    logger.child?.({ broker: 'redis://:topsecret@h' }).info({}, 'child line');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).not.toContain('topsecret');
  });

  it('cleans every own property of an error, recursively: cause, nested objects and arrays, an AUTH command', () => {
    const options = { host: 'h', password: 'topsecret' };
    const inner = Object.assign(new Error('inner at amqp://u:topsecret@h'), { options });
    const error = Object.assign(new Error('WRONGPASS invalid username-password pair', { cause: inner }), {
      command: { name: 'auth', args: ['bob', 'topsecret'] },
      attempts: [{ url: 'nats://x:topsecret@h' }],
      sasl: { mechanism: 'plain', username: 'u', password: 'topsecret' },
      secretAccessKey: 'topsecret',
    });
    const aggregate = new AggregateError([error], 'all failed');
    expect(redactError(aggregate)).toBe(aggregate);
    for (const text of [inspect(aggregate, { depth: 20, showHidden: true }), JSON.stringify(error, Object.getOwnPropertyNames(error))]) {
      expect(text).not.toContain('topsecret');
    }
    expect((error as unknown as { command: unknown }).command).toEqual({ name: 'auth', args: ['***', '***'] });
    expect(error).toBeInstanceOf(Error);
    // The objects the error pointed at are replaced by clean copies, never changed in place (a live client's options).
    expect(options.password).toBe('topsecret');
  });

  it('redactValue copies plain data without secrets and survives cycles', () => {
    const data: Record<string, unknown> = { token: 'abc', list: ['amqp://u:pw1@h', { apiKey: 'k' }], ok: 1 };
    data.self = data;
    const clean = redactValue(data) as Record<string, unknown>;
    expect(clean).toMatchObject({ token: '***', list: ['amqp://u:***@h', { apiKey: '***' }], ok: 1 });
    expect(clean.self).toBe(clean);
    expect(data.token).toBe('abc');
  });
});
