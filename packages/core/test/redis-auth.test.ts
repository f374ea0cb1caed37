import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinationUnavailableError } from '../src/errors.js';
import { consoleLogger } from '../src/logger.js';
import { connectRedis } from '../src/redis/client.js';
import { type PrivateRedis, startPrivateRedis } from './fixtures/coordination-redis-server.js';

// A private redis-server with a password, started here and ended by this file (never the shared one).
const PASSWORD = 'right-horse-battery-7f3a';
const WRONG = 'wrong-staple-9c21';
let redis: PrivateRedis;

beforeAll(async () => {
  redis = await startPrivateRedis(['--requirepass', PASSWORD]);
}, 20_000);
afterAll(() => redis?.stop());

const withPassword = (user: string, password: string) => redis.url.replace('redis://', `redis://${user}:${password}@`);

describe('Redis credentials', () => {
  it.each([
    ['', 'default'],
    ['bob', 'bob'],
  ])('a wrong password (user "%s") fails fast, says authentication failed for the user, and no output carries it', async (user, named) => {
    const lines: string[] = [];
    const logger = consoleLogger('debug', { write: (line) => lines.push(line) });
    const started = Date.now();
    const error = await connectRedis(withPassword(user, WRONG), { logger }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(Date.now() - started, 'fails fast, not after retries').toBeLessThan(2_000);
    expect(error).toBeInstanceOf(CoordinationUnavailableError);
    expect(error?.message).toContain(`Redis authentication failed for user "${named}"`);
    expect(error?.message).not.toMatch(/Connection is closed/);
    expect(lines.length, 'the failure is logged').toBeGreaterThan(0);
    const everything = [error?.message, error?.stack, inspect(error, { depth: 10 }), JSON.stringify(error), ...lines].join('\n');
    expect(everything).not.toContain(WRONG);
  });

  it('the right password connects', async () => {
    const client = await connectRedis(withPassword('', PASSWORD));
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });
});
