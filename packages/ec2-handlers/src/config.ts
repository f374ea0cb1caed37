import { ConfigError, flag, redact } from '@org/eventbus';
import type { LaunchGuardOptions } from './launch-guards.js';
import { launcherFromEnv } from './launcher-from-env.js';
import { RedisRequestStore } from './redis-request-store.js';
import type { PostgresMode } from './postgres-mode.js';
import type { RequestStore } from './request-store.js';
import { ROLES, type Ec2ServiceOptions, type Role } from './service.js';

type Env = Record<string, string | undefined>;

export interface CommandLine {
  role?: string;
  port?: string;
  host?: string;
  url?: string;
}

function num(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!(Number.isFinite(n) && n > 0)) throw new ConfigError(name, `must be a positive number (got "${raw}")`);
  return n;
}

/** "on"/"off" (also true/false, 1/0) as a boolean for `flag`; anything else is passed on for it to refuse. */
function onOff(env: Env, name: string): unknown {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  return { on: true, true: true, '1': true, off: false, false: false, '0': false }[raw.toLowerCase()] ?? raw;
}

/**
 * Service options from the command line and the environment: EVENTBUS_URL picks the broker,
 * EVENTBUS_REDIS_URL shares request state and the launch guards across containers, EC2_POSTGRES_URL
 * (else EVENTBUS_POSTGRES_URL) is Postgres mode (request state, outbox, inbox; Redis then keeps only
 * the guards), AWS_* picks the real launcher, EC2_RATE_LIMIT / EC2_CONCURRENCY tune the guards.
 */
export async function optionsFromEnv(args: CommandLine, env: Env = process.env): Promise<Ec2ServiceOptions & { describe: string }> {
  const role = (args.role ?? env.EC2_ROLE ?? 'all') as Role;
  if (!ROLES.includes(role)) throw new ConfigError('--role', `must be one of ${ROLES.join(', ')} (got "${role}")`);
  const port = Number(args.port ?? env.PORT ?? 3000);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new ConfigError('--port', `must be a port number (got "${args.port ?? env.PORT}")`);
  const url = args.url ?? env.EVENTBUS_URL ?? 'memory://';
  const launcher = launcherFromEnv(env);
  const guards: LaunchGuardOptions = {
    rateLimit: { limit: num(env, 'EC2_RATE_LIMIT', 2), per: 1000 },
    concurrency: num(env, 'EC2_CONCURRENCY', 20),
  };
  let store: RequestStore | undefined;
  const redisUrl = env.EVENTBUS_REDIS_URL;
  const postgresUrl = env.EC2_POSTGRES_URL || env.EVENTBUS_POSTGRES_URL;
  if (redisUrl) {
    // Only a deployment with Redis loads ioredis (an optional peer dependency).
    const redis = await import('@org/eventbus/redis');
    const connect = async () => redis.connectRedis(redisUrl);
    // In Postgres mode the database holds the request state; Redis keeps the launch guards.
    if (!postgresUrl) store = new RedisRequestStore(await connect(), { prefix: env.EC2_REDIS_PREFIX ?? 'ec2' });
    const client = await connect();
    guards.stores = {
      rateLimit: new redis.RedisRateLimitStore({ client }),
      semaphore: new redis.RedisSemaphoreStore({ client }),
      idempotency: new redis.RedisIdempotencyStore({ client }),
    };
  }
  let postgres: PostgresMode | undefined;
  if (postgresUrl) {
    // Only a deployment with PostgreSQL loads pg and @org/eventbus-postgres (optional peer dependencies).
    const { connectPostgres } = await import('./postgres-mode.js');
    postgres = await connectPostgres(postgresUrl, {
      ...(env.EC2_POSTGRES_SCHEMA ? { schema: env.EC2_POSTGRES_SCHEMA } : {}),
      migrate: flag('EC2_POSTGRES_MIGRATE', onOff(env, 'EC2_POSTGRES_MIGRATE'), true),
      synchronousCommit: flag('EC2_POSTGRES_SYNC_COMMIT', onOff(env, 'EC2_POSTGRES_SYNC_COMMIT'), true),
    });
  }
  const describe = [
    `role ${role}`,
    `broker ${redact(url)}`,
    `launcher ${launcher.name}`,
    `state ${postgresUrl ? `postgres ${redact(postgresUrl)}` : redisUrl ? `redis ${redact(redisUrl)}` : 'memory'}`,
    `rate limit ${guards.rateLimit?.limit}/s`,
  ].join(' · ');
  return {
    role,
    url,
    launcher,
    guards,
    port,
    // Only the default port falls back to a free one; a port the user chose must be honoured.
    portFallback: args.port === undefined && env.PORT === undefined,
    host: args.host ?? env.HOST ?? '127.0.0.1',
    ...(store ? { store } : {}),
    ...(postgres ? { postgres } : {}),
    ...(env.EC2_RELAY ? { relay: flag('EC2_RELAY', onOff(env, 'EC2_RELAY'), role !== 'worker') } : {}),
    ...(env.EVENTBUS_INSTANCE_ID ? { instanceId: env.EVENTBUS_INSTANCE_ID } : {}),
    describe,
  };
}
