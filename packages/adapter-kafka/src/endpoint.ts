import { Base, type Broker, type ConnectionPool } from '@platformatic/kafka';

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
