import { ConfigError } from '../errors.js';
import type { ScheduleCancellations } from '../schedule-cancellations.js';
import { guarded, type Redis, type RedisStoreOptions, resolveStoreOptions } from './client.js';

export interface RedisScheduleCancellationsOptions extends RedisStoreOptions {
  client: Redis;
}

/**
 * Cancellations of scheduled events shared by every process on one Redis: one key per cancelled
 * event id, expiring when the event's time (plus a margin) has passed — nothing to clean up.
 */
export class RedisScheduleCancellations implements ScheduleCancellations {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly timeoutMs: number;

  constructor(options: RedisScheduleCancellationsOptions) {
    if (!options?.client) throw new ConfigError('client', 'an ioredis client is required');
    this.client = options.client;
    ({ prefix: this.prefix, timeoutMs: this.timeoutMs } = resolveStoreOptions(options));
  }

  async cancel(id: string, keepUntil: number): Promise<void> {
    const ttlMs = Math.max(1, Math.ceil(keepUntil - Date.now()));
    await guarded('schedule cancel', this.timeoutMs, () => this.client.set(this.key(id), '1', 'PX', ttlMs));
  }

  async isCancelled(id: string): Promise<boolean> {
    return (await guarded('schedule cancellation lookup', this.timeoutMs, () => this.client.exists(this.key(id)))) === 1;
  }

  private key(id: string): string {
    return `${this.prefix}cancelled:${id}`;
  }
}
