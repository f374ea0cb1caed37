import { ConfigError, flag, type Logger, matching, oneOf, optionsFromQuery, redact, wholeNumber } from '@org/eventbus';

export interface NatsTransportOptions {
  /** Server URLs (`nats://host:4222`, `tls://host:4222`). Credentials in a URL are used and never logged. */
  servers: string | readonly string[];
  user?: string;
  pass?: string;
  token?: string;
  /** Use TLS (implied by a `tls://` URL). */
  tls?: boolean;
  /** Connection name shown by the server's monitoring. */
  name?: string;
  /** Subject prefix: channel `orders.created` travels on `<prefix>.orders.created`. */
  prefix?: string;
  /** Stream holding `<prefix>.>`; derived from the prefix when omitted. */
  stream?: string;
  /** Subject prefix of dead letters (`<deadLetterPrefix>.<group>`), in a stream of their own. */
  deadLetterPrefix?: string;
  /** How long the server waits for a settle before redelivering; `working()` extends it while a handler runs. */
  ackWaitMs?: number;
  /** Redelivery timescale for deliveries nobody settled (a consumer that died); `[]` uses ackWaitMs alone. */
  backoffMs?: readonly number[];
  /**
   * Deliveries a message gets: a nack on the last one dead-letters, and a message delivered more
   * often without a settle (its consumer keeps dying) is dead-lettered without running the handler.
   * The server's own max_deliver is unlimited, so nothing leaves a group without a dead-letter copy.
   */
  maxDeliver?: number;
  /** Unsettled deliveries per group consumer across all its members. */
  maxAckPending?: number;
  /** Window in which the server drops a republished event id (the Nats-Msg-Id duplicate window). */
  duplicateWindowMs?: number;
  /** Age after which the streams drop messages; 0 keeps them until limits say otherwise. */
  maxAgeMs?: number;
  /** A new group starts at the oldest retained message (`all`) or only sees new ones (`new`). */
  deliverPolicy?: 'all' | 'new';
  /** Longest a publish waits, across reconnects and retries, before it rejects. */
  publishTimeoutMs?: number;
  /** Publish acks awaited at once within one `publish` call. */
  publishConcurrency?: number;
  /** Largest encoded message (headers + body) accepted; must fit the server's max_payload. */
  maxMessageBytes?: number;
  /**
   * How events are laid out on the wire (CloudEvents NATS binding). "structured" (default): the
   * whole event as one JSON body, `content-type: application/cloudevents+json`; "binary": attributes
   * as `ce-` headers, the data alone in the body. Either mode reads both (docs/decisions/0008).
   */
  wireMode?: 'structured' | 'binary';
  /** How long `Subscription.close()` waits for deliveries in flight to be settled. */
  drainTimeoutMs?: number;
  /** Lifetime of one pull request; the server sends idle heartbeats within it. */
  pullExpiresMs?: number;
  /** Delay between reconnect attempts (the client retries for ever). */
  reconnectTimeWaitMs?: number;
  /**
   * Copies of each stream (the server's num_replicas, 1 to 5). `'auto'` (default): 3 on a cluster the
   * server reports with 3 or more servers, else as many as it has — 1 on a single server. A number
   * larger than the cluster the server reports fails the first connect with a ConfigError. An
   * existing stream keeps the replicas it was created with under `'auto'`; a number moves it.
   */
  replicas?: number | 'auto';
  /** Copies of each durable consumer's state; default: as many as its stream (the server's 0). At most `replicas`. */
  consumerReplicas?: number;
  /**
   * Longest hold in one step (a nack delay or a deferred copy's `-NAK` hold), whole ms ≥ 1000.
   * Default: the largest the adapter gives the server (2^31-1 ms, about 24.8 days). Longer waits
   * are chained hops by core; scale it down to test that path in seconds.
   */
  maxDelayMs?: number;
  /** Where connection loss and recovery are reported (one warning line each); console warnings by default. */
  logger?: Logger;
}

export type ResolvedOptions = Required<
  Omit<NatsTransportOptions, 'user' | 'pass' | 'token' | 'tls' | 'name' | 'servers' | 'backoffMs' | 'logger' | 'replicas' | 'consumerReplicas'>
> & {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  tls: boolean;
  name: string;
  backoffMs: number[];
  replicas: number | 'auto';
  /** 0: as many as the stream. */
  consumerReplicas: number;
};

/** The most replicas a JetStream stream can have. */
export const MAX_REPLICAS = 5;

const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;

/**
 * The longest single hold: a NAK delay is nanoseconds in an int64 on the server, far beyond this;
 * 2^31-1 ms keeps every timer on our side (Node's setTimeout bound) and core's chaining exact.
 */
export const NATS_MAX_DELAY_MS = 2_147_483_647;

/** Subject prefix of the deferred copies (`<prefix>-deferred.<group>.<channel>`), in a stream of their own. */
export function deferredPrefixFor(prefix: string): string {
  return `${prefix}-deferred`;
}

/** Two subject prefixes whose streams would claim the same subjects. */
function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}

/** Dot-separated subject tokens without wildcards: what the channel and dead-letter prefixes may be. */
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const SUBJECT_PREFIX_RULE = 'must be dot-separated tokens of letters, digits, "_" or "-"';
const STREAM_NAME = /^[A-Za-z0-9_-]+$/;

/** A stream name the server accepts, derived from a subject prefix. */
export function streamNameFor(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase();
}

export function resolveOptions(options: NatsTransportOptions): ResolvedOptions {
  const servers = typeof options.servers === 'string' ? [options.servers] : [...(options.servers ?? [])];
  if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new ConfigError('servers', 'needs at least one server URL, e.g. nats://127.0.0.1:4222');
  }
  const prefix = matching('prefix', options.prefix, SUBJECT_PREFIX, SUBJECT_PREFIX_RULE, 'eventbus');
  const deadLetterPrefix = matching(
    'deadLetterPrefix',
    options.deadLetterPrefix,
    SUBJECT_PREFIX,
    SUBJECT_PREFIX_RULE,
    `${prefix}-dead-letter`,
  );
  if (deadLetterPrefix === prefix || deadLetterPrefix.startsWith(`${prefix}.`)) {
    throw new ConfigError('deadLetterPrefix', `must lie outside the channel prefix "${prefix}.>"`);
  }
  if (overlaps(deadLetterPrefix, deferredPrefixFor(prefix))) {
    throw new ConfigError('deadLetterPrefix', `must lie outside "${deferredPrefixFor(prefix)}.>", where deferred copies travel`);
  }
  const stream = matching('stream', options.stream, STREAM_NAME, 'must be a stream name: letters, digits, "_" or "-"', streamNameFor(prefix));
  const ackWaitMs = wholeNumber('ackWaitMs', options.ackWaitMs, 30_000, { min: 1000 });
  const maxDeliver = wholeNumber('maxDeliver', options.maxDeliver, 100, { min: 2 });
  // No consumer-level backoff table unless asked for: on nats-server 2.9 one holds back the
  // redelivery after a second delayed NAK, and core's retry already spaces attempts with NAK delays.
  const backoffMs = (options.backoffMs ?? []).map((ms, i) => wholeNumber(`backoffMs[${i}]`, ms, 0, { min: 1000 }));
  if (backoffMs.length >= maxDeliver) {
    throw new ConfigError('backoffMs', `needs fewer steps (${backoffMs.length}) than maxDeliver (${maxDeliver})`);
  }
  const replicas =
    options.replicas === undefined || options.replicas === 'auto'
      ? 'auto'
      : wholeNumber('replicas', options.replicas, 1, { min: 1, max: MAX_REPLICAS });
  const consumerReplicas = wholeNumber('consumerReplicas', options.consumerReplicas, 0, { min: 1, max: MAX_REPLICAS });
  if (replicas !== 'auto' && consumerReplicas > replicas) {
    throw new ConfigError('consumerReplicas', `is ${consumerReplicas}, more than the stream's replicas (${replicas}): a consumer lives on its stream's servers`);
  }
  const deliverPolicy = oneOf('deliverPolicy', options.deliverPolicy, ['all', 'new'], 'all');
  const resolved: ResolvedOptions = {
    servers,
    tls: flag('tls', options.tls, servers.some((s) => s.startsWith('tls://'))),
    name: options.name ?? 'eventbus',
    prefix,
    stream,
    deadLetterPrefix,
    ackWaitMs,
    backoffMs,
    replicas,
    consumerReplicas,
    maxDeliver,
    maxAckPending: wholeNumber('maxAckPending', options.maxAckPending, 10_000),
    duplicateWindowMs: wholeNumber('duplicateWindowMs', options.duplicateWindowMs, 120_000, { min: 1000 }),
    maxAgeMs: wholeNumber('maxAgeMs', options.maxAgeMs, 0, { min: 0 }),
    deliverPolicy,
    publishTimeoutMs: wholeNumber('publishTimeoutMs', options.publishTimeoutMs, 30_000, { min: 100 }),
    publishConcurrency: wholeNumber('publishConcurrency', options.publishConcurrency, 256),
    maxMessageBytes: wholeNumber('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
    wireMode: oneOf('wireMode', options.wireMode, ['structured', 'binary'], 'structured'),
    drainTimeoutMs: wholeNumber('drainTimeoutMs', options.drainTimeoutMs, 30_000, { min: 0 }),
    pullExpiresMs: wholeNumber('pullExpiresMs', options.pullExpiresMs, 5_000, { min: 1000 }),
    reconnectTimeWaitMs: wholeNumber('reconnectTimeWaitMs', options.reconnectTimeWaitMs, 250, { min: 10 }),
    maxDelayMs: wholeNumber('maxDelayMs', options.maxDelayMs, NATS_MAX_DELAY_MS, { min: 1000, max: NATS_MAX_DELAY_MS }),
  };
  if (options.user !== undefined) resolved.user = options.user;
  if (options.pass !== undefined) resolved.pass = options.pass;
  if (options.token !== undefined) resolved.token = options.token;
  return resolved;
}

/** eventbus options a nats:// URL may carry in its query: `nats://host:4222?prefix=orders`. */
const URL_OPTIONS = {
  name: 'string',
  prefix: 'string',
  stream: 'string',
  deadLetterPrefix: 'string',
  ackWaitMs: 'number',
  maxDeliver: 'number',
  maxAckPending: 'number',
  duplicateWindowMs: 'number',
  maxAgeMs: 'number',
  deliverPolicy: 'string',
  publishTimeoutMs: 'number',
  publishConcurrency: 'number',
  maxMessageBytes: 'number',
  wireMode: 'string',
  drainTimeoutMs: 'number',
  replicas: 'string',
  consumerReplicas: 'number',
  maxDelayMs: 'number',
} as const;

/**
 * Options from a `nats://[user:pass@|token@]host:port[,host:port]` URL; everything else comes from
 * `options`. Credentials move from the URL into options so they never appear in a server list or log.
 */
export function optionsFromUrl(url: string, options: Record<string, unknown> = {}): NatsTransportOptions {
  const scheme = /^(nats|tls):\/\//.exec(url)?.[1];
  if (!scheme) throw new ConfigError('url', `"${redact(url)}" is not a nats:// or tls:// URL`);
  const queryAt = url.indexOf('?');
  const rest = url.slice(scheme.length + 3, queryAt >= 0 ? queryAt : undefined);
  const query = new URLSearchParams(queryAt >= 0 ? url.slice(queryAt + 1) : '');
  const fromQuery = optionsFromQuery(query, URL_OPTIONS);
  const unknown = [...query.keys()];
  if (unknown.length > 0) {
    throw new ConfigError('url', `unknown parameter(s) ${unknown.map((k) => `"${k}"`).join(', ')}; nats:// takes ${Object.keys(URL_OPTIONS).join(', ')}`);
  }
  const at = rest.lastIndexOf('@');
  const auth = at >= 0 ? rest.slice(0, at) : '';
  const hosts = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/.*$/, '');
  if (hosts === '') throw new ConfigError('url', `"${redact(url)}" names no host`);
  const servers = hosts.split(',').map((h) => `${scheme}://${h.replace(/^(nats|tls):\/\//, '')}`);
  // Where the URL and `options` both set one, the URL (deployment configuration) wins, as on every adapter.
  const result: NatsTransportOptions = { ...(options as Partial<NatsTransportOptions>), ...fromQuery, servers };
  if (auth !== '') {
    const colon = auth.indexOf(':');
    if (colon >= 0) {
      result.user = decodeURIComponent(auth.slice(0, colon));
      result.pass = decodeURIComponent(auth.slice(colon + 1));
    } else {
      result.token = decodeURIComponent(auth);
    }
  }
  return result;
}
