import type { EventbusAdapter } from './adapter.js';
import { ConfigError } from './errors.js';
import { adapterOf, importPackage, installedPackages, isAdapter, isMissingPackage, normalScheme, packageFolder } from './installed-packages.js';
import { MemoryTransport, type MemoryTransportOptions } from './memory/transport.js';
import { redact } from './redact.js';
import type { Transport } from './transport.js';

/**
 * The second argument of `createTransport`: the adapter's options (passed to its `fromUrl`; what the URL
 * says wins), and `adapters` to use before the installed ones — a third-party adapter, or one under test.
 */
export interface CreateTransportOptions extends Record<string, unknown> {
  adapters?: readonly EventbusAdapter[];
}

/**
 * For the error message only: the package to install for the schemes of the adapters published with
 * core. Finding an adapter never reads this — installed packages declare their schemes themselves.
 */
const INSTALL_HINTS: Readonly<Record<string, string>> = {
  amqp: '@org/eventbus-rabbitmq',
  amqps: '@org/eventbus-rabbitmq',
  kafka: '@org/eventbus-kafka',
  nats: '@org/eventbus-nats',
  tls: '@org/eventbus-nats',
  sqs: '@org/eventbus-sqs',
};

function parse(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new ConfigError('url', `"${redact(url)}" is not a URL; expected <scheme>://…, e.g. memory:// or amqp://host:5672`);
  }
}

/**
 * Pick the transport by URL scheme, so one environment variable moves an app between brokers:
 * `memory://` is core's own; any other scheme goes to an adapter in `options.adapters`, else to the
 * installed package whose package.json declares the scheme (imported on demand).
 */
export async function createTransport(url: string, options: CreateTransportOptions = {}): Promise<Transport> {
  return transportFromUrl(url, options, process.cwd());
}

/** `createTransport`, finding installed adapters from `from` instead of the working directory. */
export async function transportFromUrl(url: string, options: CreateTransportOptions, from: string): Promise<Transport> {
  // The docs pass `process.env.EVENTBUS_URL!`: an unset variable arrives here as undefined.
  if (typeof url !== 'string' || url.trim() === '') {
    const got = url === undefined ? 'undefined' : typeof url === 'string' ? 'an empty string' : typeof url;
    throw new ConfigError('url', 'missing', {
      message: `createTransport() needs a broker URL and got ${got}: set EVENTBUS_URL (memory://, amqp://…, kafka://…, nats://…, sqs://…) or pass the URL`,
    });
  }
  const { adapters = [], ...adapterOptions } = options;
  const parsed = parse(url);
  const scheme = normalScheme(parsed.protocol);
  const explicit = explicitAdapter(adapters, scheme);
  if (explicit) return explicit.fromUrl(url, adapterOptions);
  if (scheme === 'memory') {
    return new MemoryTransport({ ...memoryUrlOptions(parsed.searchParams), ...adapterOptions, broker: parsed.hostname || 'default' });
  }
  return (await installedAdapter(scheme, from)).fromUrl(url, adapterOptions);
}

/** The first of `adapters` serving `scheme`; JavaScript callers get a ConfigError for anything else in the list. */
function explicitAdapter(adapters: unknown, scheme: string): EventbusAdapter | undefined {
  if (!Array.isArray(adapters)) throw new ConfigError('adapters', 'must be an array of adapters (each an EventbusAdapter)');
  const checked: EventbusAdapter[] = [];
  for (const adapter of adapters) {
    if (!isAdapter(adapter)) throw new ConfigError('adapters', 'each must be an EventbusAdapter: { name, schemes, fromUrl }');
    checked.push(adapter);
  }
  return checked.find((a) => a.schemes.some((s) => normalScheme(s) === scheme));
}

/** The installed adapter for `scheme`; a ConfigError saying what to install when there is none. */
export async function installedAdapter(scheme: string, from: string): Promise<EventbusAdapter> {
  const installed = await installedPackages(from);
  const pkg = installed.find((p) => p.schemes.includes(scheme));
  if (pkg) return loadAdapter(pkg.packageName, scheme, pkg.dir);
  const hint = INSTALL_HINTS[scheme];
  if (hint) {
    const folder = await packageFolder(hint, from);
    if (folder === undefined) throw notInstalled(hint, scheme);
    throw new ConfigError('url', 'adapter too old', {
      message: `${hint} is installed (${folder}) but its package.json does not declare the scheme "${scheme}" ("eventbus": { "schemes": […] }): it is older than this @org/eventbus; upgrade it`,
    });
  }
  const known = [...new Set(['memory', ...installed.flatMap((p) => p.schemes), ...Object.keys(INSTALL_HINTS)])];
  throw new ConfigError(
    'url',
    `unknown scheme "${scheme}://"; supported: ${known.map((s) => `${s}://`).join(', ')} — or install an adapter whose package.json declares "eventbus": { "schemes": ["${scheme}"] }, or pass one: createTransport(url, { adapters: [adapter] })`,
  );
}

/**
 * Import an adapter package and take its `adapter` export; a package that is not there becomes an
 * error saying what to install. `dir`: where the scan found it, for when core cannot resolve the name.
 */
export async function loadAdapter(packageName: string, scheme: string, dir?: string): Promise<EventbusAdapter> {
  let module: unknown;
  try {
    module = await importPackage(packageName, dir);
  } catch (error) {
    if (isMissingPackage(error, packageName)) throw notInstalled(packageName, normalScheme(scheme));
    throw error;
  }
  const adapter = adapterOf(module, packageName);
  if (!adapter.schemes.some((s) => normalScheme(s) === normalScheme(scheme))) {
    throw new ConfigError('url', `${packageName} declares "${normalScheme(scheme)}://" in its package.json but its adapter serves ${adapter.schemes.join(', ')}`);
  }
  return adapter;
}

function notInstalled(packageName: string, scheme: string): ConfigError {
  return new ConfigError('url', 'adapter not installed', {
    message: `the adapter package ${packageName} is not installed (the scheme "${scheme}://" needs it): install ${packageName}, e.g. npm install ${packageName}`,
  });
}

/** `memory://name?serialize=false&maxBacklog=5000&maxDelayMs=60000`: the options a URL can carry. */
function memoryUrlOptions(params: URLSearchParams): MemoryTransportOptions {
  const options: MemoryTransportOptions = {};
  for (const [name, value] of params) {
    if (name === 'serialize') {
      if (value !== 'true' && value !== 'false') throw new ConfigError('serialize', `must be true or false (got "${value}")`);
      options.serialize = value === 'true';
    } else if (name === 'maxBacklog') options.maxBacklog = Number(value);
    else if (name === 'maxDelayMs') options.maxDelayMs = Number(value);
    else throw new ConfigError('url', `memory:// takes serialize, maxBacklog and maxDelayMs; unknown parameter "${name}"`);
  }
  return options;
}
