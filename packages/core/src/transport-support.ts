import { ConfigError } from './errors.js';
import type { SubscribeOptions } from './transport.js';

/**
 * The checks every transport makes on `subscribe` options; a ConfigError names the bad one. A
 * transport that can feed a group without channels (SQS direct-to-queue) passes `needsChannels: false`.
 */
export function checkSubscribeOptions(options: SubscribeOptions, { needsChannels = true } = {}): void {
  if (!options.group) throw new ConfigError('group', 'is required');
  if (!(Number.isInteger(options.prefetch) && options.prefetch >= 1)) {
    throw new ConfigError('prefetch', `must be a whole number ≥ 1 (got ${String(options.prefetch)})`);
  }
  if (needsChannels && !options.deadLetters && options.channels.length === 0) {
    throw new ConfigError('channels', 'needs at least one channel');
  }
}

/**
 * Work a transport has accepted and not finished (publishes waiting for confirms), so `close()` can
 * wait for it: a publish that started before close resolves or rejects, it is never dropped.
 */
export class PendingWork {
  private readonly pending = new Set<Promise<unknown>>();

  get size(): number {
    return this.pending.size;
  }

  /** Track `work` until it settles; returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const forget = () => this.pending.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Resolves when everything tracked so far has settled, whichever way. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}

/** How to read one option from a URL's query string. */
export type QueryOptionKind = 'string' | 'number' | 'boolean';

/**
 * Read the options a transport URL may carry in its query (`?exchange=orders&queueType=classic`),
 * typed by `spec`. Known parameters are taken out of `params`, so what is left is for the client
 * library (amqplib's heartbeat) or an error (a typo the caller should name).
 */
export function optionsFromQuery(params: URLSearchParams, spec: Readonly<Record<string, QueryOptionKind>>): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(spec)) {
    const raw = params.get(name);
    if (raw === null) continue;
    params.delete(name);
    if (kind === 'string') options[name] = raw;
    else if (kind === 'number') {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw new ConfigError(name, `must be a number (got "${raw}")`);
      options[name] = value;
    } else if (raw === 'true' || raw === 'false') options[name] = raw === 'true';
    else throw new ConfigError(name, `must be true or false (got "${raw}")`);
  }
  return options;
}
