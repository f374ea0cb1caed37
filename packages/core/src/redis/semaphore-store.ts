import { randomUUID } from 'node:crypto';
import { KeyedWaiters } from '../coordination/keyed-waiters.js';
import type { Lease, SemaphoreStore } from '../coordination/stores.js';
import { ConfigError } from '../errors.js';
import { guarded, type Redis, type RedisStoreOptions, RedisScript, resolveStoreOptions, SERVER_NOW } from './client.js';

// One sorted set per key: member = permit token, score = its expiry on the server's clock. Expired
// permits (a holder that died) are dropped before counting, so a crash frees its place by TTL.
const ACQUIRE = new RedisScript(
  'semaphore-acquire',
  `${SERVER_NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(last[2]) - now) + 1000)
return 1`,
);
const EXTEND = new RedisScript(
  'semaphore-extend',
  `${SERVER_NOW}
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(last[2]) - now) + 1000)
return 1`,
);

export interface RedisSemaphoreStoreOptions extends RedisStoreOptions {
  client: Redis;
}

/** A counting semaphore per key on one Redis: at most `limit` permits alive at once, each with a TTL. */
export class RedisSemaphoreStore implements SemaphoreStore {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly waiters = new KeyedWaiters();

  constructor(options: RedisSemaphoreStoreOptions) {
    if (!options?.client) throw new ConfigError('client', 'an ioredis client is required');
    this.client = options.client;
    ({ prefix: this.prefix, timeoutMs: this.timeoutMs } = resolveStoreOptions(options));
  }

  async tryAcquire(key: string, limit: number, ttlMs: number): Promise<Lease | undefined> {
    const redisKey = `${this.prefix}semaphore:${key}`;
    const token = randomUUID();
    const got = await guarded(`semaphore "${key}" acquire`, this.timeoutMs, () =>
      ACQUIRE.run(this.client, [redisKey], [limit, Math.ceil(ttlMs), token]),
    );
    if (got !== 1) return undefined;
    return {
      extend: async (ms) =>
        (await guarded(`semaphore "${key}" extend`, this.timeoutMs, () => EXTEND.run(this.client, [redisKey], [token, Math.ceil(ms)]))) === 1,
      release: async () => {
        try {
          await guarded(`semaphore "${key}" release`, this.timeoutMs, () => this.client.zrem(redisKey, token));
        } finally {
          this.waiters.notify(key);
        }
      },
    };
  }

  waitForRelease(key: string, maxMs: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(key, maxMs, signal);
  }
}
