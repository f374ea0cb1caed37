import { ConfigError } from './errors.js';
import { MemoryTransport, type MemoryTransportOptions } from './memory/transport.js';
import { redact } from './redact.js';
import type { Transport } from './transport.js';

/**
 * What an adapter package exports so `createTransport(url)` can load it: a `fromUrl` that reads
 * connection details from the URL and anything else from `options`.
 */
export interface AdapterModule {
  fromUrl(url: string, options?: Record<string, unknown>): Transport;
}

const ADAPTER_PACKAGES: Record<string, string> = {
  'amqp:': '@org/eventbus-rabbitmq',
  'amqps:': '@org/eventbus-rabbitmq',
  'kafka:': '@org/eventbus-kafka',
  'nats:': '@org/eventbus-nats',
  'tls:': '@org/eventbus-nats',
  'sqs:': '@org/eventbus-sqs',
};

export const SUPPORTED_SCHEMES = ['memory:', ...Object.keys(ADAPTER_PACKAGES)];

function parse(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new ConfigError('url', `"${redact(url)}" is not a URL; expected one of ${SUPPORTED_SCHEMES.join(' ')}//…`);
  }
}

/** Which package serves a URL's scheme; throws a ConfigError naming the scheme if none does. */
export function adapterPackageFor(url: string): string | undefined {
  const { protocol } = parse(url);
  if (protocol === 'memory:') return undefined;
  const pkg = ADAPTER_PACKAGES[protocol];
  if (!pkg) {
    throw new ConfigError('url', `unknown scheme "${protocol}//"; supported: ${SUPPORTED_SCHEMES.map((s) => `${s}//`).join(', ')}`);
  }
  return pkg;
}

function isMissingPackage(error: unknown, pkg: string): boolean {
  const code = (error as { code?: string } | null)?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes(pkg);
}

/**
 * Pick the transport by URL scheme, so one environment variable moves an app between brokers:
 * `memory://`, `amqp://`, `kafka://`, `nats://`, `sqs://`. The adapter package is imported on demand.
 */
export async function createTransport(url: string, options: Record<string, unknown> = {}): Promise<Transport> {
  // The docs pass `process.env.EVENTBUS_URL!`: an unset variable arrives here as undefined.
  if (typeof url !== 'string' || url.trim() === '') {
    const got = url === undefined ? 'undefined' : typeof url === 'string' ? 'an empty string' : typeof url;
    throw new ConfigError('url', 'missing', {
      message: `createTransport() needs a broker URL and got ${got}: set EVENTBUS_URL (memory://, amqp://…, kafka://…, nats://…, sqs://…) or pass the URL`,
    });
  }
  const pkg = adapterPackageFor(url);
  if (pkg === undefined) {
    const { hostname, searchParams } = parse(url);
    return new MemoryTransport({ ...memoryUrlOptions(searchParams), ...(options as object), broker: hostname || 'default' });
  }
  const adapter = await loadAdapter(pkg, parse(url).protocol);
  return adapter.fromUrl(url, options);
}

/** `memory://name?serialize=false&maxBacklog=5000`: the options a URL can carry. */
function memoryUrlOptions(params: URLSearchParams): MemoryTransportOptions {
  const options: MemoryTransportOptions = {};
  for (const [name, value] of params) {
    if (name === 'serialize') {
      if (value !== 'true' && value !== 'false') throw new ConfigError('serialize', `must be true or false (got "${value}")`);
      options.serialize = value === 'true';
    } else if (name === 'maxBacklog') options.maxBacklog = Number(value);
    else throw new ConfigError('url', `memory:// takes serialize and maxBacklog; unknown parameter "${name}"`);
  }
  return options;
}

/** Import an adapter package, turning "not installed" into an error that says what to install. */
export async function loadAdapter(pkg: string, scheme: string): Promise<AdapterModule> {
  let adapter: AdapterModule;
  try {
    adapter = (await import(pkg)) as AdapterModule;
  } catch (error) {
    if (isMissingPackage(error, pkg)) {
      throw new ConfigError('url', 'adapter not installed', {
        message: `the adapter package ${pkg} is not installed (the scheme "${scheme}//" needs it): install ${pkg}, e.g. npm install ${pkg}`,
      });
    }
    throw error;
  }
  if (typeof adapter.fromUrl !== 'function') {
    throw new ConfigError('url', `${pkg} does not export fromUrl(); is it an eventbus adapter?`);
  }
  return adapter;
}
