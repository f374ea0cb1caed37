import { describe, expect, it } from 'vitest';
import { flatString, newEventId } from './event-id.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newEventId', () => {
  it('makes version 4 UUIDs, all different, across several refills of its random bytes', () => {
    const ids = Array.from({ length: 2_000 }, () => newEventId());
    for (const id of ids) expect(id).toMatch(V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('uses every hex digit in every free position (the bytes are random, not a counter)', () => {
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let n = 0; n < 2_000; n++) {
      const id = newEventId();
      for (let i = 0; i < id.length; i++) seen[i]?.add(id[i] as string);
    }
    const fixed = new Set([8, 13, 14, 18, 19, 23]); // dashes, the version digit, the variant digit
    seen.forEach((digits, i) => {
      if (!fixed.has(i)) expect(digits.size, `position ${i}`).toBe(16);
    });
    expect(seen[19]).toEqual(new Set(['8', '9', 'a', 'b']));
  });
});

describe('flatString', () => {
  it('keeps the text, non-ASCII included', () => {
    expect(flatString(`urn:${'é'}:${'🚀'}`)).toBe('urn:é:🚀');
  });
});
