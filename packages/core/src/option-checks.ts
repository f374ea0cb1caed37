import { ConfigError } from './errors.js';

/**
 * Checks for constructor options, one place for every package: each throws a ConfigError naming the
 * option and what it got, and returns the value (or the fallback when the option was not given).
 */

/** A whole number in [min, max]; a numeric string (from a URL query) is accepted. */
export function wholeNumber(option: string, value: unknown, fallback: number, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(option, `must be a whole number ${range} (got ${String(value)})`);
  }
  return n;
}

/** A finite number > 0 (or ≥ 0 with `allowZero`); a numeric string is accepted. */
export function positiveNumber(option: string, value: unknown, fallback: number, { allowZero = false } = {}): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    throw new ConfigError(option, `must be a ${allowZero ? 'number ≥ 0' : 'positive number'} (got ${String(value)})`);
  }
  return n;
}

/** One of a fixed set of values. */
export function oneOf<const T extends string>(option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(option, `must be ${allowed.map((a) => JSON.stringify(a)).join(' or ')} (got ${JSON.stringify(value)})`);
  }
  return value as T;
}

/** A string matching `pattern`; `described` says in words what is allowed. */
export function matching(option: string, value: unknown, pattern: RegExp, described: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new ConfigError(option, `${described} (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** true or false; "true"/"false" from a URL query are accepted. */
export function flag(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigError(option, `must be true or false (got ${JSON.stringify(value)})`);
}
