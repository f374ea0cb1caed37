import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent, parseData } from './contract.js';
import { ConfigError } from './errors.js';

const schema = z.object({ id: z.string(), count: z.number().int().min(1) });

describe('defineEvent', () => {
  it('defaults the channel to the type and the version to 1', () => {
    const c = defineEvent({ type: 'thing.happened', schema, description: 'A thing happened.' });
    expect(c).toMatchObject({ type: 'thing.happened', channel: 'thing.happened', version: 1 });
  });

  it.each([
    [{ type: 'Bad Type!', schema, description: 'x' }, /`type`/],
    [{ type: 'a.b', schema, description: 'x', version: 0 }, /`version`/],
    [{ type: 'a.b', schema: {} as never, description: 'x' }, /`schema`/],
    [{ type: 'a.b', schema, description: '' }, /`description`/],
    [{ type: 'a.b', schema, description: 'x', channel: 'has space' }, /`channel`/],
  ])('refuses bad options with a message naming the option (%#)', (definition, message) => {
    expect(() => defineEvent(definition as never)).toThrow(ConfigError);
    expect(() => defineEvent(definition as never)).toThrow(message);
  });
});

describe('parseData', () => {
  const c = defineEvent({ type: 'thing.counted', schema, description: 'Counted.' });

  it('returns the parsed data', () => {
    expect(parseData(c, { id: 'a', count: 2 })).toEqual({ ok: true, data: { id: 'a', count: 2 } });
  });

  it('lists every issue with its path', () => {
    const result = parseData(c, { id: 3, count: 0 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path).sort()).toEqual(['count', 'id']);
  });
});
