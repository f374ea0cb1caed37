// Redis stores for the coordination middleware: one budget, one lock table, one idempotency record
// shared by every process and container. ioredis is an optional peer dependency of @org/eventbus:
// only this entry point imports it.
export { type ConnectRedisOptions, connectRedis, type Redis, type RedisStoreOptions } from './client.js';
export { RedisIdempotencyStore, type RedisIdempotencyStoreOptions } from './idempotency-store.js';
export { RedisLockStore, type RedisLockStoreOptions } from './lock-store.js';
export { RedisRateLimitStore, type RedisRateLimitStoreOptions } from './rate-limit-store.js';
export { RedisScheduleCancellations, type RedisScheduleCancellationsOptions } from './schedule-cancellations.js';
export { RedisSemaphoreStore, type RedisSemaphoreStoreOptions } from './semaphore-store.js';
