import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { CoordinationUnavailableError, errorMessage } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { redact } from '../redact.js';

export type { Redis } from 'ioredis';

/** Options every Redis store takes. */
export interface RedisStoreOptions {
  /** Prefix of every key the store writes, so several apps (or test runs) can share one Redis. Default "eventbus:". */
  prefix?: string;
  /** ms to wait for Redis before the store reports CoordinationUnavailableError. Default 2000. */
  commandTimeoutMs?: number;
}

export interface ConnectRedisOptions extends RedisOptions {
  logger?: Logger;
}

/**
 * An ioredis client set up for coordination: commands fail at once while disconnected (instead of
 * queueing and landing after the caller gave up — a lock taken by nobody), and are never resent
 * after a reconnect. It reconnects by itself, so the middleware recovers when Redis returns.
 */
export async function connectRedis(url: string, options: ConnectRedisOptions = {}): Promise<Redis> {
  const { logger = silentLogger, ...redisOptions } = options;
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(50 * times, 1_000),
    ...redisOptions,
  });
  let down = false;
  client.on('error', (error: Error) => {
    if (down) return;
    down = true;
    logger.error({ err: error, url: redact(url) }, 'Redis unreachable; coordinated deliveries are nacked until it returns');
  });
  client.on('ready', () => {
    if (down) logger.info({ url: redact(url) }, 'Redis reachable again');
    down = false;
  });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new CoordinationUnavailableError(`Could not connect to Redis at ${redact(url)}: ${redact(errorMessage(error))}`);
  }
  return client;
}

/** Run a Redis call with a deadline; any failure becomes a CoordinationUnavailableError naming what was asked. */
export async function guarded<T>(what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new CoordinationUnavailableError(`Redis did not answer ${what} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([call(), deadline]);
  } catch (error) {
    if (error instanceof CoordinationUnavailableError) throw error;
    throw new CoordinationUnavailableError(`Redis ${what} failed: ${redact(errorMessage(error))}`);
  } finally {
    clearTimeout(timer);
  }
}

/** A Lua script run by its SHA, loaded on first use (and again after a Redis restart forgot it). */
export class RedisScript {
  private readonly sha: string;

  constructor(
    readonly name: string,
    private readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!errorMessage(error).startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** Server time in ms (with µs fraction): every container shares one clock, the Redis server's. */
export const SERVER_NOW = `local __t = redis.call('TIME')
local now = tonumber(__t[1]) * 1000 + tonumber(__t[2]) / 1000`;

export function resolveStoreOptions(options: RedisStoreOptions): { prefix: string; timeoutMs: number } {
  return { prefix: options.prefix ?? 'eventbus:', timeoutMs: options.commandTimeoutMs ?? 2_000 };
}
