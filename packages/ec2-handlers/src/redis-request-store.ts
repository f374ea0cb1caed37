import type { Notification, RequestRecord, RequestStep, RequestStore, RequestSummary } from './request-store.js';
import { chainState, sortChain, stepKey } from './request-store.js';

/** The few ioredis commands this store uses (an ioredis `Redis` fits). */
export interface RedisLike {
  set(key: string, value: string, mode: 'EX', seconds: number): Promise<unknown>;
  get(key: string): Promise<string | null>;
  del(...keys: string[]): Promise<unknown>;
  hsetnx(key: string, field: string, value: string): Promise<unknown>;
  hgetall(key: string): Promise<Record<string, string>>;
  expire(key: string, seconds: number): Promise<unknown>;
  lpush(key: string, value: string): Promise<unknown>;
  ltrim(key: string, start: number, stop: number): Promise<unknown>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  quit(): Promise<unknown>;
}

export interface RedisRequestStoreOptions {
  /** Key prefix, so several services (or test runs) share one Redis. Default "ec2". */
  prefix?: string;
  /** How long a request is remembered, in seconds. Default one day. */
  ttlSeconds?: number;
}

/** Request state in Redis, shared by every API and worker container. */
export class RedisRequestStore implements RequestStore {
  private readonly prefix: string;
  private readonly ttl: number;

  constructor(
    private readonly redis: RedisLike,
    options: RedisRequestStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'ec2';
    this.ttl = options.ttlSeconds ?? 86_400;
  }

  private key(requestId: string, part: string) {
    return `${this.prefix}:req:{${requestId}}:${part}`;
  }

  async create(request: RequestSummary): Promise<void> {
    await this.redis.set(this.key(request.requestId, 'request'), JSON.stringify(request), 'EX', this.ttl);
  }

  async remove(requestId: string): Promise<void> {
    await this.redis.del(this.key(requestId, 'request'), this.key(requestId, 'steps'), this.key(requestId, 'notification'));
  }

  async addStep(requestId: string, step: RequestStep, instanceIds?: string[]): Promise<void> {
    const steps = this.key(requestId, 'steps');
    // Sent together, answered in order on the one connection: one round trip, not two.
    await Promise.all([
      this.redis.hsetnx(steps, stepKey(step), JSON.stringify({ ...step, ...(instanceIds ? { instanceIds } : {}) })),
      this.redis.expire(steps, this.ttl),
    ]);
  }

  async addNotification(n: Notification): Promise<void> {
    const list = `${this.prefix}:user:{${n.userId}}:notifications`;
    const text = JSON.stringify(n);
    // One round trip: Redis runs one connection's commands in the order they were sent.
    await Promise.all([
      this.redis.set(this.key(n.requestId, 'notification'), text, 'EX', this.ttl),
      this.redis.lpush(list, text),
      this.redis.ltrim(list, 0, 99),
      this.redis.expire(list, this.ttl),
    ]);
  }

  async get(requestId: string): Promise<RequestRecord | undefined> {
    const [request, steps, notification] = await Promise.all([
      this.redis.get(this.key(requestId, 'request')),
      this.redis.hgetall(this.key(requestId, 'steps')),
      this.redis.get(this.key(requestId, 'notification')),
    ]);
    const stored = Object.values(steps).map((s) => JSON.parse(s) as RequestStep & { instanceIds?: string[] });
    if (!request && !notification && stored.length === 0) return undefined;
    const instanceIds = stored.find((s) => s.instanceIds && s.instanceIds.length > 0)?.instanceIds ?? [];
    const chain = sortChain(stored.map(({ instanceIds: _ignored, ...step }) => step));
    return {
      requestId,
      ...chainState(chain),
      ...(request ? { request: JSON.parse(request) as RequestSummary } : {}),
      instanceIds,
      chain,
      ...(notification ? { notification: JSON.parse(notification) as Notification } : {}),
    };
  }

  async notifications(userId: string, limit = 50): Promise<Notification[]> {
    const raw = await this.redis.lrange(`${this.prefix}:user:{${userId}}:notifications`, 0, limit - 1);
    return raw.map((r) => JSON.parse(r) as Notification);
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
