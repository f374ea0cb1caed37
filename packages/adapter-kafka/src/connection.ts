import { Admin, Base, type Broker, type ConnectionPool } from '@platformatic/kafka';
import { authenticationError, connectFailure } from './errors.js';
import type { ResolvedKafkaOptions } from './options.js';

/** connect() asks the broker this many times (half a second apart) before it calls it unreachable. */
const CONNECT_ATTEMPTS = 6;

type PoolFactory = (this: object, context?: unknown) => ConnectionPool;
type AnyConstructor = abstract new (...args: never[]) => object;

function createPoolSymbol(): symbol {
  const symbol = Object.getOwnPropertySymbols(Base.prototype).find(
    (s) => s.description === 'plt.kafka.base.createConnectionPool',
  );
  if (!symbol) throw new Error('@platformatic/kafka no longer exposes createConnectionPool; endpoint override unavailable');
  return symbol;
}

function redirect(pool: ConnectionPool, endpoint: Broker): ConnectionPool {
  const get = pool.get.bind(pool) as (broker: Broker, ...rest: unknown[]) => unknown;
  const getFirstAvailable = pool.getFirstAvailable.bind(pool) as (brokers: Broker[], ...rest: unknown[]) => unknown;
  Object.assign(pool, {
    get: (_broker: Broker, ...rest: unknown[]) => get(endpoint, ...rest),
    getFirstAvailable: (_brokers: Broker[], ...rest: unknown[]) => getFirstAvailable([endpoint], ...rest),
  });
  return pool;
}

/**
 * A client class whose every connection goes to `endpoint`, whatever address the cluster
 * advertises: Kafka clients reconnect to advertised listeners, which would bypass a TCP proxy or a
 * port forward in front of a single broker.
 */
export function clientClass<C extends AnyConstructor>(Client: C, endpoint: Broker | undefined): C {
  if (!endpoint) return Client;
  const symbol = createPoolSymbol();
  const original = (Client.prototype as Record<symbol, PoolFactory>)[symbol]!;
  const Mapped = class extends (Client as unknown as new (...args: unknown[]) => object) {};
  (Mapped.prototype as unknown as Record<symbol, PoolFactory>)[symbol] = function (this: object, context?: unknown) {
    return redirect(original.call(this, context), endpoint);
  };
  return Mapped as unknown as C;
}

/** Tries of one request after a retriable failure, for every client but the producers (PRODUCE_RETRIES). */
export const CLIENT_RETRIES = 8;
const FIRST_RETRY_DELAY_MS = 50;
const MAX_RETRY_DELAY_MS = 500;

/**
 * The wait before retry `attempt` (1, 2, …): 50, 100, 200, 400 ms, then 500 ms each. The usual
 * retriable failure is brief — a partition whose leader is not in place yet (NOT_LEADER_OR_FOLLOWER
 * on a topic created a moment ago, or just moved) — and a flat 500 ms made the first publish to a new
 * topic, or a consumer's first offsets lookup, wait half a second for it; a broker that is really
 * gone is still waited for about as long in all (8 tries ≈ 2.75 s, the producers' ≈ 12 s).
 */
export function retryDelay(_client: unknown, _operation: string, attempt: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** Math.max(0, attempt - 1));
}

/** What every client of one transport is created with (admin, producers, consumers). */
export function clientOptions({ clientId, brokers, requestTimeoutMs, sasl, tls }: ResolvedKafkaOptions) {
  return {
    ...(sasl ? { sasl } : {}),
    ...(tls ? { tls: {} } : {}),
    clientId,
    bootstrapBrokers: [...brokers],
    timeout: requestTimeoutMs,
    connectTimeout: Math.min(requestTimeoutMs, 5000),
    retries: CLIENT_RETRIES,
    retryDelay,
  };
}

/**
 * Ask the broker for its metadata, a few times while it does not answer — but not once more after
 * it refused our credentials: a wrong password fails connect() at once, saying so. `stopped`: the
 * transport is closing, so give up after the attempt running now.
 */
export async function probe(options: ResolvedKafkaOptions, stopped: () => boolean): Promise<void> {
  const admin = new (clientClass(Admin, options.endpoint))({ ...clientOptions(options), retries: 0 });
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.metadata({ topics: [] });
        return;
      } catch (error) {
        if (authenticationError(error) || attempt >= CONNECT_ATTEMPTS || stopped()) throw connectFailure(error, options, attempt);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    await admin.close().catch(() => {});
  }
}
