import { describe, expect, it } from 'vitest';
import { backoffDelay, resolveBackoff } from './backoff.js';
import { ConfigError } from './errors.js';

describe('backoffDelay', () => {
  const options = { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: false };

  it('grows exponentially from the initial delay', () => {
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, options))).toEqual([100, 200, 400, 800]);
  });

  it('is capped at maxMs', () => {
    expect(backoffDelay(10, options)).toBe(1000);
    expect(backoffDelay(1000, options)).toBe(1000);
  });

  it('jitter keeps each delay between half and the whole of the exponential value', () => {
    const jittered = { ...options, jitter: true };
    expect(backoffDelay(3, jittered, () => 0)).toBe(200);
    expect(backoffDelay(3, jittered, () => 0.999999)).toBe(400);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(3, jittered)));
    expect(spread.size).toBeGreaterThan(5);
  });
});

describe('resolveBackoff', () => {
  it('names the bad field', () => {
    expect(() => resolveBackoff({ multiplier: 0.5 })).toThrow(ConfigError);
    expect(() => resolveBackoff({ multiplier: 0.5 })).toThrow(/backoff\.multiplier/);
    expect(() => resolveBackoff({ initialMs: 500, maxMs: 100 })).toThrow(/backoff\.maxMs/);
  });
});
