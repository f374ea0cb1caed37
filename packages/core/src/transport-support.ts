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
