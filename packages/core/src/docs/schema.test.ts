import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent } from '../contract.js';
import { contractJsonSchema, requiredLabel, type SchemaRow, schemaRows } from './schema.js';

const Tagged = defineEvent({
  type: 'schema.tagged',
  description: 'Fields with and without defaults.',
  schema: z.object({
    id: z.string(),
    owner: z.string().default('anonymous'),
    tags: z.record(z.string(), z.string()).default({}),
    note: z.string().optional(),
    limits: z.object({ cpu: z.number().default(2), memory: z.number() }),
  }),
});

describe('schemaRows', () => {
  const schema = contractJsonSchema(Tagged);
  const rows = schemaRows(schema);
  const row = (path: string): SchemaRow => {
    const found = rows.find((r) => r.path === path);
    if (!found) throw new Error(`no row ${path}`);
    return found;
  };

  it('marks a field with a default as optional on input, with its default', () => {
    expect(row('owner')).toMatchObject({ required: false, default: 'anonymous' });
    expect(requiredLabel(row('owner'))).toBe('no, default "anonymous"');
    expect(requiredLabel(row('tags'))).toBe('no, default {}');
    expect(requiredLabel(row('limits.cpu'))).toBe('no, default 2');
  });

  it('keeps fields without a default as they are: required, or optional when .optional()', () => {
    expect(requiredLabel(row('id'))).toBe('yes');
    expect(requiredLabel(row('limits.memory'))).toBe('yes');
    expect(requiredLabel(row('note'))).toBe('no');
  });

  it('leaves the output schema saying a defaulted field is always present', () => {
    // What a consumer receives always has the default filled in: AsyncAPI keeps it required.
    expect(schema.required).toEqual(expect.arrayContaining(['id', 'owner', 'tags', 'limits']));
    expect(schema.required).not.toContain('note');
  });
});
