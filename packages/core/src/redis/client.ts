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
  const where = redact(url);
  const user = redisUser(url, redisOptions.username);
  let down = false;
  let authFailure: CoordinationUnavailableError | undefined;
  client.on('error', (raw: Error) => {
    // ioredis puts the AUTH command, password included, on its errors: only a clean one is logged.
    const error = describeRedisError(raw, where, user);
    if (isAuthFailure(raw)) {
      authFailure ??= error;
      // Retrying with the same password cannot help: stop at once instead of reconnecting forever.
      client.disconnect();
    }
    if (down) return;
    down = true;
    logger.error({ err: error, url: where }, 'Redis unreachable; coordinated deliveries are nacked until it returns');
  });
  client.on('ready', () => {
    if (down) logger.info({ url: where }, 'Redis reachable again');
    down = false;
  });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw authFailure ?? new CoordinationUnavailableError(`Could not connect to Redis at ${where}: ${redact(errorMessage(error))}`);
  }
  return client;
}

/** The user a Redis URL authenticates as (`default` when it names none). */
function redisUser(url: string, username: string | undefined): string {
  if (username) return username;
  try {
    return decodeURIComponent(new URL(url).username) || 'default';
  } catch {
    return 'default';
  }
}

function isAuthFailure(error: Error): boolean {
  return /^(?:WRONGPASS|NOAUTH)\b|invalid password|AUTH <password> called without any password/i.test(error.message);
}

/** What an ioredis error means, as an error that carries neither the password nor the raw command. */
function describeRedisError(error: Error, where: string, user: string): CoordinationUnavailableError {
  if (isAuthFailure(error)) {
    return new CoordinationUnavailableError(
      `Redis authentication failed for user "${user}" at ${where}: ${redact(error.message)} Check the user and password in the Redis URL.`,
    );
  }
  return new CoordinationUnavailableError(`Redis at ${where}: ${redact(errorMessage(error))}`);
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
