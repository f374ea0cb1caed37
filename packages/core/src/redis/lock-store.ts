import { randomUUID } from 'node:crypto';
import { KeyedWaiters } from '../coordination/keyed-waiters.js';
import type { Lease, LockStore } from '../coordination/stores.js';
import { ConfigError, CoordinationUnavailableError } from '../errors.js';
import { guarded, type Redis, type RedisStoreOptions, RedisScript, resolveStoreOptions } from './client.js';

const EXTEND = new RedisScript(
  'lock-extend',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
);
const RELEASE = new RedisScript(
  'lock-release',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

export interface RedisLockStoreOptions extends RedisStoreOptions {
  /**
   * Independent Redis servers (not replicas of one another). With one, a plain Redis lock; with
   * N (odd, e.g. 3 or 5) the Redlock algorithm: a lock counts when a majority granted it in time.
   */
  clients: readonly Redis[];
  /** Fraction of the TTL allowed for clock drift between servers. Default 0.01. */
  driftFactor?: number;
}

/**
 * Redlock (https://redis.io/docs/latest/develop/use/patterns/distributed-locks/): SET NX PX with a
 * random token on every server; held when a majority said yes within the TTL less drift; renewed
 * and released only where the token still matches. See docs/decisions/coordination-locks.md.
 */
export class RedisLockStore implements LockStore {
  private readonly clients: readonly Redis[];
  private readonly quorum: number;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly driftFactor: number;
  private readonly waiters = new KeyedWaiters();

  constructor(options: RedisLockStoreOptions) {
    if (!options?.clients || options.clients.length === 0) throw new ConfigError('clients', 'needs at least one ioredis client');
    this.clients = options.clients;
    this.quorum = Math.floor(options.clients.length / 2) + 1;
    ({ prefix: this.prefix, timeoutMs: this.timeoutMs } = resolveStoreOptions(options));
    this.driftFactor = options.driftFactor ?? 0.01;
  }

  async tryAcquire(key: string, ttlMs: number): Promise<Lease | undefined> {
    const redisKey = `${this.prefix}lock:${key}`;
    const token = randomUUID();
    const ttl = Math.ceil(ttlMs);
    const started = Date.now();
    const votes = await this.everywhere('lock acquire', (c) => c.set(redisKey, token, 'PX', ttl, 'NX').then((r) => r === 'OK'));
    const validity = ttl - (Date.now() - started) - (ttl * this.driftFactor + 2);
    if (votes.granted >= this.quorum && validity > 0) return this.lease(key, redisKey, token);
    // Undo partial grants so they do not block others until their TTL.
    if (votes.granted > 0) await this.everywhere('lock release', (c) => RELEASE.run(c, [redisKey], [token]).then(Boolean)).catch(() => {});
    if (votes.failed > this.clients.length - this.quorum) {
      throw new CoordinationUnavailableError(`lock "${key}": only ${this.clients.length - votes.failed} of ${this.clients.length} Redis servers answered (${votes.firstError})`);
    }
    return undefined;
  }

  waitForRelease(key: string, maxMs: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(key, maxMs, signal);
  }

  private lease(key: string, redisKey: string, token: string): Lease {
    return {
      extend: async (ms) => {
        const started = Date.now();
        const votes = await this.everywhere('lock extend', (c) => EXTEND.run(c, [redisKey], [token, Math.ceil(ms)]).then((r) => r === 1));
        if (votes.granted >= this.quorum && Date.now() - started < ms * (1 - this.driftFactor)) return true;
        if (votes.failed > this.clients.length - this.quorum) throw new CoordinationUnavailableError(`lock "${key}" extend: ${votes.firstError}`);
        return false;
      },
      release: async () => {
        try {
          await this.everywhere('lock release', (c) => RELEASE.run(c, [redisKey], [token]).then(Boolean));
        } finally {
          this.waiters.notify(key);
        }
      },
    };
  }

  private async everywhere(what: string, call: (client: Redis) => Promise<boolean>) {
    const results = await Promise.allSettled(this.clients.map((c) => guarded(what, this.timeoutMs, () => call(c))));
    let granted = 0;
    let failed = 0;
    let firstError = '';
    for (const r of results) {
      if (r.status === 'fulfilled') granted += r.value ? 1 : 0;
      else {
        failed++;
        firstError ||= String((r.reason as Error).message);
      }
    }
    return { granted, failed, firstError };
  }
}
