import { randomUUID } from 'node:crypto';
import type { RateClaim, RateLimitStore, RateWindow, Reservation } from '../coordination/stores.js';
import { ConfigError } from '../errors.js';
import { guarded, type Redis, type RedisStoreOptions, RedisScript, resolveStoreOptions, SERVER_NOW } from './client.js';

// KEYS[1]: reserved slots (token → slot time); KEYS[2]: actual starts (token → start time). All
// times are the Redis server's, so containers with skewed clocks still share one timeline. Slots
// are handed out in arrival order, each at least `per` + margin after the limit-th slot before it.
// The schedule follows reservations only: a claim that came late does not push later slots back
// (that would let the rate drift down); the claim's own check keeps the starts strict.
const RESERVE = new RedisScript(
  'rate-reserve',
  `${SERVER_NOW}
local limit, spacing, maxWait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - spacing)
local at = now
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local r = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  at = math.max(at, tonumber(r[2]) + spacing)
end
if at - now > maxWait then return {0, tostring(at - now - maxWait)} end
redis.call('ZADD', KEYS[1], at, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(at - now + spacing) + 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
if at <= now and redis.call('ZCARD', KEYS[2]) < limit then
  redis.call('ZADD', KEYS[2], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[5])) + 1000)
  return {2, string.format('%.3f', now)}
end
return {1, tostring(at - now)}`,
);
// A start is recorded only if the window ending now holds fewer than \`limit\` starts; otherwise
// the answer is how long until the oldest of them leaves the window.
const CLAIM = new RedisScript(
  'rate-claim',
  `${SERVER_NOW}
local limit, per = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - per)
local n = redis.call('ZCARD', KEYS[2])
if n < limit then
  redis.call('ZADD', KEYS[2], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[2], math.ceil(per) + 1000)
  return {1, string.format('%.3f', now)}
end
local s = redis.call('ZRANGE', KEYS[2], n - limit, n - limit, 'WITHSCORES')
return {0, tostring(tonumber(s[2]) + per - now)}`,
);

export interface RedisRateLimitStoreOptions extends RedisStoreOptions {
  client: Redis;
}

/** The strict sliding-window limit of `rateLimit`, shared by every process on one Redis. */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;

  constructor(options: RedisRateLimitStoreOptions) {
    if (!options?.client) throw new ConfigError('client', 'an ioredis client is required');
    this.client = options.client;
    ({ prefix: this.prefix, timeoutMs: this.timeoutMs } = resolveStoreOptions(options));
  }

  async reserve(key: string, window: RateWindow & { marginMs: number; maxWaitMs: number }): Promise<Reservation> {
    const token = randomUUID();
    const spacing = window.perMs + window.marginMs;
    const [ok, ms] = (await guarded(`rate limit "${key}" reserve`, this.timeoutMs, () =>
      RESERVE.run(this.client, this.keys(key), [window.limit, spacing, window.maxWaitMs, token, window.perMs]),
    )) as [number, string];
        if (ok === 2) return { reserved: true, token, waitMs: 0, startedAt: Number(ms) };
    const wait = Math.max(0, Math.ceil(Number(ms)));
    return ok === 1 ? { reserved: true, token, waitMs: wait } : { reserved: false, retryAfterMs: wait };
  }

  async claim(key: string, token: string, window: RateWindow): Promise<RateClaim> {
    const [started, value] = (await guarded(`rate limit "${key}" claim`, this.timeoutMs, () =>
      CLAIM.run(this.client, this.keys(key), [window.limit, window.perMs, token]),
    )) as [number, string];
    return started === 1 ? { startedAt: Number(value) } : { waitMs: Math.max(1, Math.ceil(Number(value))) };
  }

  async cancel(key: string, token: string): Promise<void> {
    await guarded(`rate limit "${key}" cancel`, this.timeoutMs, () => this.client.zrem(this.keys(key)[0]!, token));
  }

  /** Both keys share a hash tag, so the scripts also run on Redis Cluster. */
  private keys(key: string): [string, string] {
    return [`${this.prefix}rate:{${key}}:reserved`, `${this.prefix}rate:{${key}}:started`];
  }
}
