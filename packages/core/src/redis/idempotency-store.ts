import { KeyedWaiters } from '../coordination/keyed-waiters.js';
import type { ClaimResult, IdempotencyStore } from '../coordination/stores.js';
import { ConfigError } from '../errors.js';
import { guarded, type Redis, type RedisStoreOptions, RedisScript, resolveStoreOptions } from './client.js';

// One string per key: "run:<owner>" while a handler holds the claim (expires with its lease),
// "done" once it completed (expires with the idempotency TTL).
const CLAIM = new RedisScript(
  'idem-claim',
  `local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'run:' .. ARGV[1], 'PX', ARGV[2])
  return 'claimed'
end
if v == 'done' then return 'done' end
if v == 'run:' .. ARGV[1] then return 'claimed' end
return 'busy'`,
);
const EXTEND = new RedisScript(
  'idem-extend',
  `if redis.call('GET', KEYS[1]) == 'run:' .. ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
);
// Our own claim, or none left (the lease ran out during an outage but nobody else took it): done.
const COMPLETE = new RedisScript(
  'idem-complete',
  `local v = redis.call('GET', KEYS[1])
if not v or v == 'run:' .. ARGV[1] or v == 'done' then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
  return 1
end
return 0`,
);
const RELEASE = new RedisScript(
  'idem-release',
  `if redis.call('GET', KEYS[1]) == 'run:' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

export interface RedisIdempotencyStoreOptions extends RedisStoreOptions {
  client: Redis;
}

/** Claims and completions of `idempotency`, shared by every process on one Redis. */
export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly waiters = new KeyedWaiters();

  constructor(options: RedisIdempotencyStoreOptions) {
    if (!options?.client) throw new ConfigError('client', 'an ioredis client is required');
    this.client = options.client;
    ({ prefix: this.prefix, timeoutMs: this.timeoutMs } = resolveStoreOptions(options));
  }

  async claim(key: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    return (await this.run('claim', CLAIM, key, [owner, Math.ceil(leaseMs)])) as ClaimResult;
  }

  async extend(key: string, owner: string, leaseMs: number): Promise<boolean> {
    return (await this.run('extend', EXTEND, key, [owner, Math.ceil(leaseMs)])) === 1;
  }

  async complete(key: string, owner: string, ttlMs: number): Promise<void> {
    try {
      await this.run('complete', COMPLETE, key, [owner, Math.ceil(ttlMs)]);
    } finally {
      this.waiters.notify(key, true);
    }
  }

  async release(key: string, owner: string): Promise<void> {
    try {
      await this.run('release', RELEASE, key, [owner]);
    } finally {
      this.waiters.notify(key, true);
    }
  }

  waitForRelease(key: string, maxMs: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(key, maxMs, signal);
  }

  private run(what: string, script: RedisScript, key: string, args: (string | number)[]): Promise<unknown> {
    return guarded(`idempotency ${what}`, this.timeoutMs, () => script.run(this.client, [`${this.prefix}idem:${key}`], args));
  }
}
