import { describe, expect, it } from 'vitest';
import { safeLogger } from './logger.js';
import { redact, redactError } from './redact.js';

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
});
