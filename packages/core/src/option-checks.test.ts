import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { flag, matching, oneOf, positiveNumber, wholeNumber } from './option-checks.js';

describe('option checks', () => {
  it('return the fallback when the option is absent and the value when it is good', () => {
    expect(wholeNumber('prefetch', undefined, 10)).toBe(10);
    expect(wholeNumber('prefetch', '25', 10)).toBe(25);
    expect(positiveNumber('rate', 0.5, 1)).toBe(0.5);
    expect(positiveNumber('delay', 0, 1, { allowZero: true })).toBe(0);
    expect(oneOf('startFrom', 'latest', ['earliest', 'latest'], 'earliest')).toBe('latest');
    expect(matching('prefix', 'a.b', /^[a-z.]+$/, 'lower case', 'x')).toBe('a.b');
    expect(flag('tls', 'true', false)).toBe(true);
    expect(flag('tls', undefined, false)).toBe(false);
  });

  it('name the option and what it got when the value is bad', () => {
    expect(() => wholeNumber('publishers', 17, 1, { max: 16 })).toThrow(/publishers.*from 1 to 16 \(got 17\)/);
    expect(() => wholeNumber('prefetch', 1.5, 1)).toThrow(ConfigError);
    expect(() => positiveNumber('rate', 0, 1)).toThrow(/rate.*positive number \(got 0\)/);
    expect(() => oneOf('startFrom', 'middle', ['earliest', 'latest'], 'earliest')).toThrow(/startFrom.*"earliest" or "latest" \(got "middle"\)/);
    expect(() => matching('prefix', 'A B', /^[a-z]+$/, 'may hold lower-case letters only', 'x')).toThrow(/prefix.*lower-case letters only \(got "A B"\)/);
    expect(() => flag('tls', 'yes', false)).toThrow(/tls.*true or false/);
  });
});
