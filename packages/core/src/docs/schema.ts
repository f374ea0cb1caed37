import { z } from 'zod';
import type { EventContract } from '../contract.js';

/** A JSON Schema (draft-07) as plain data. */
export type JsonSchema = { [key: string]: unknown };

/** The contract's data schema as JSON Schema draft-07 (AsyncAPI's schema format), without `$schema`. */
export function contractJsonSchema(contract: EventContract): JsonSchema {
  const { $schema: _drop, ...schema } = z.toJSONSchema(contract.schema, {
    target: 'draft-7',
    // A transform or a date has no JSON Schema; document it as "any" instead of failing the docs.
    unrepresentable: 'any',
  }) as JsonSchema;
  return schema;
}

export interface SchemaRow {
  /** Dotted path; `[]` marks array items. */
  readonly path: string;
  readonly type: string;
  /**
   * Whether a producer must give the field. A field with a default is optional on input even though the
   * (output) JSON Schema lists it as required: after parsing it is always present, so AsyncAPI keeps it
   * required and the tables say "no, default X".
   */
  readonly required: boolean;
  /** The default a missing field takes, when the schema has one. */
  readonly default?: unknown;
  readonly description: string;
}

const asSchema = (value: unknown): JsonSchema => (typeof value === 'object' && value !== null ? (value as JsonSchema) : {});

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const ref = schema.$ref;
  if (ref === '#') return root;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  let at: unknown = root;
  for (const part of ref.slice(2).split('/')) at = asSchema(at)[part];
  return asSchema(at);
}

/** One variant that stands for a union in tables and examples: the first that is not null. */
function primary(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const s = resolve(schema, root);
  const variants = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (!Array.isArray(variants) || variants.length === 0) return s;
  const chosen = variants.map((v) => resolve(v, root)).find((v) => v.type !== 'null') ?? variants[0];
  return { ...asSchema(chosen), ...(s.description ? { description: s.description } : {}) };
}

export function typeLabel(schema: JsonSchema, root: JsonSchema = schema): string {
  const s = resolve(schema, root);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const variants = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(variants)) return variants.map((v) => typeLabel(v, root)).join(' | ');
  const type = Array.isArray(s.type) ? s.type.join(' | ') : typeof s.type === 'string' ? s.type : 'any';
  if (type === 'array') return `${typeLabel(asSchema(s.items), root)}[]`;
  return typeof s.format === 'string' ? `${type} (${s.format})` : type;
}

const CONSTRAINTS: readonly [string, string][] = [
  ['minimum', '≥'],
  ['exclusiveMinimum', '>'],
  ['maximum', '≤'],
  ['exclusiveMaximum', '<'],
  ['minLength', 'min length'],
  ['maxLength', 'max length'],
  ['minItems', 'min items'],
  ['maxItems', 'max items'],
];

function describeField(s: JsonSchema): string {
  const parts: string[] = [];
  if (typeof s.description === 'string') parts.push(s.description);
  for (const [key, label] of CONSTRAINTS) {
    const value = s[key];
    // zod writes the safe-integer bounds on every int; they say nothing to a reader.
    if (typeof value === 'number' && Math.abs(value) < Number.MAX_SAFE_INTEGER) parts.push(`${label} ${value}`);
  }
  if (typeof s.pattern === 'string' && typeof s.format !== 'string') parts.push(`pattern \`${s.pattern}\``);
  return parts.join(' · ');
}

/** The Required cell of a row: "yes", "no", or "no, default X". */
export function requiredLabel(row: SchemaRow): string {
  if (row.required) return 'yes';
  return row.default === undefined ? 'no' : `no, default ${JSON.stringify(row.default)}`;
}

/** The schema flattened to rows: one per property, nested objects and array items included. */
export function schemaRows(schema: JsonSchema): SchemaRow[] {
  const rows: SchemaRow[] = [];
  // `refs`: the $refs expanded on the way here, so a recursive schema is listed once, not unrolled.
  const walk = (node: JsonSchema, prefix: string, depth: number, refs: readonly string[]) => {
    const ref = typeof node.$ref === 'string' ? node.$ref : undefined;
    if (depth > 6 || (ref !== undefined && refs.includes(ref))) return;
    const path = ref === undefined ? refs : [...refs, ref];
    const s = primary(node, schema);
    if (s.type === 'array') {
      const items = asSchema(s.items);
      if (primary(items, schema).type === 'object') walk(items, `${prefix}[]`, depth + 1, path);
      return;
    }
    const properties = asSchema(s.properties);
    const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
    for (const name of Object.keys(properties)) {
      const child = asSchema(properties[name]);
      const field = prefix ? `${prefix}.${name}` : name;
      const shown = primary(child, schema);
      const fallback = shown.default ?? child.default;
      rows.push({
        path: field,
        type: typeLabel(child, schema),
        required: required.has(name) && fallback === undefined,
        ...(fallback === undefined ? {} : { default: fallback }),
        description: describeField(shown),
      });
      walk(child, field, depth + 1, path);
    }
  };
  walk(schema, '', 0, ['#']);
  return rows;
}

const FORMAT_EXAMPLES: Readonly<Record<string, string>> = {
  uuid: '00000000-0000-4000-8000-000000000000',
  'date-time': '2025-01-01T00:00:00.000Z',
  date: '2025-01-01',
  time: '00:00:00',
  email: 'user@example.com',
  uri: 'https://example.com/',
  url: 'https://example.com/',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
};

/** A deterministic example value that fits the schema, for contracts that give none. */
export function exampleFor(node: JsonSchema, root: JsonSchema = node, depth = 0, refs: readonly string[] = ['#']): unknown {
  const ref = typeof node.$ref === 'string' ? node.$ref : undefined;
  // A recursive schema ends where it would repeat itself.
  if (ref !== undefined && refs.includes(ref)) return null;
  const path = ref === undefined ? refs : [...refs, ref];
  const s = primary(node, root);
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'string': {
      if (typeof s.format === 'string' && FORMAT_EXAMPLES[s.format]) return FORMAT_EXAMPLES[s.format];
      const min = typeof s.minLength === 'number' ? s.minLength : 0;
      return 'string'.padEnd(Math.max(min, 6), 'x').slice(0, typeof s.maxLength === 'number' ? Math.max(s.maxLength, min) : undefined);
    }
    case 'integer':
    case 'number': {
      if (typeof s.minimum === 'number') return s.minimum;
      if (typeof s.exclusiveMinimum === 'number') return s.exclusiveMinimum + 1;
      if (typeof s.maximum === 'number' && s.maximum < 0) return s.maximum;
      return type === 'integer' ? 1 : 1.5;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array':
      if (depth > 6) return [];
      if (typeof asSchema(s.items).$ref === 'string' && path.includes(asSchema(s.items).$ref as string)) return [];
      return Array.from({ length: typeof s.minItems === 'number' ? Math.max(1, s.minItems) : 1 }, () =>
        exampleFor(asSchema(s.items), root, depth + 1, path),
      );
    case 'object': {
      const out: Record<string, unknown> = {};
      if (depth > 6) return out;
      const properties = asSchema(s.properties);
      for (const name of Object.keys(properties)) out[name] = exampleFor(asSchema(properties[name]), root, depth + 1, path);
      return out;
    }
    default:
      return null;
  }
}

/** The contract's own example when it has one (checked against the schema), else one made from the schema. */
export function contractExample(contract: EventContract, schema: JsonSchema = contractJsonSchema(contract)): unknown {
  if (contract.example === undefined) return exampleFor(schema);
  const parsed = contract.schema.safeParse(contract.example);
  if (!parsed.success) {
    throw new Error(`the example of "${contract.type}" does not match its schema: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  return contract.example;
}
