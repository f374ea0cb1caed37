import { ConfigError } from '@org/eventbus';
import { describe, expect, it } from 'vitest';
import { RabbitMqTransport } from './index.js';
import { optionsFromUrl, resolveOptions } from './options.js';
import { splitSeeds } from './seeds.js';

describe('seed hosts in the URL', () => {
  it('gives one URL per host, each with the credentials, vhost and query', () => {
    expect(splitSeeds('amqp://app:pw@r1:5672,r2:5673, r3/orders?heartbeat=5')).toEqual([
      'amqp://app:pw@r1:5672/orders?heartbeat=5',
      'amqp://app:pw@r2:5673/orders?heartbeat=5',
      'amqp://app:pw@r3/orders?heartbeat=5',
    ]);
    expect(splitSeeds('amqps://[::1]:5671,[::2]:5671')).toEqual(['amqps://[::1]:5671', 'amqps://[::2]:5671']);
    expect(splitSeeds('amqp://localhost/')).toEqual(['amqp://localhost/']);
    expect(() => splitSeeds('amqp://r1,,r2/')).toThrow(ConfigError);
  });

  it('resolves every seed for connecting, and hides the password in what it shows', () => {
    const resolved = resolveOptions(optionsFromUrl('amqp://app:s3cret@r1:5672,r2:5672/orders?exchange=shop&queueType=quorum'));
    expect(resolved.urls).toEqual(['amqp://app:s3cret@r1:5672/orders?exchange=shop&queueType=quorum&heartbeat=10', 'amqp://app:s3cret@r2:5672/orders?exchange=shop&queueType=quorum&heartbeat=10']);
    expect(resolved.exchange).toBe('shop');
    expect(resolved.vhost).toBe('orders');
    expect(resolved.safeUrl).toContain('r1:5672,r2:5672');
    expect(resolved.safeUrl).not.toContain('s3cret');
    const transport = new RabbitMqTransport({ url: 'amqp://app:s3cret@r1,r2' });
    expect(JSON.stringify(transport)).not.toContain('s3cret');
  });

  it('connects to the endpoint alone when one is given (a proxy in front of the cluster)', () => {
    const resolved = resolveOptions({ url: 'amqp://r1,r2,r3/', endpoint: { host: '127.0.0.1', port: 6000 } });
    expect(resolved.urls).toEqual(['amqp://127.0.0.1:6000/?heartbeat=10']);
  });

  it('checks every seed: a bad port names the url option', () => {
    expect(() => new RabbitMqTransport({ url: 'amqp://r1:5672,r2:port/' })).toThrow(/`url`/);
  });
});

describe('quorumInitialGroupSize', () => {
  it('is sent only when set, for quorum queues, as a whole number from 1', () => {
    expect(resolveOptions({ url: 'amqp://r1' }).queue).toEqual({ type: 'quorum', initialGroupSize: undefined });
    expect(resolveOptions({ url: 'amqp://r1', quorumInitialGroupSize: 5 }).queue).toEqual({ type: 'quorum', initialGroupSize: 5 });
    expect(resolveOptions(optionsFromUrl('amqp://r1,r2,r3/?quorumInitialGroupSize=3')).queue.initialGroupSize).toBe(3);
    for (const bad of [0, 2.5, -1, 256]) {
      expect(() => new RabbitMqTransport({ url: 'amqp://r1', quorumInitialGroupSize: bad })).toThrow(/`quorumInitialGroupSize`/);
    }
    expect(() => new RabbitMqTransport({ url: 'amqp://r1', queueType: 'classic', quorumInitialGroupSize: 3 })).toThrow(
      /`quorumInitialGroupSize`: applies to quorum queues only/,
    );
  });
});
