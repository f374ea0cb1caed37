import type { z } from 'zod';
import { ConfigError, type ValidationIssue } from './errors.js';
import { flatString } from './event-id.js';

/** A typed event definition: its type is the routing key, its zod schema guards both ends. */
export interface EventContract<TType extends string = string, TSchema extends z.ZodType = z.ZodType> {
  readonly type: TType;
  readonly version: number;
  readonly schema: TSchema;
  readonly description: string;
  /** Broker-level destination. Defaults to the type; contracts that share one are dispatched by type. */
  readonly channel: string;
  /** An example payload for the generated docs. */
  readonly example?: z.input<TSchema>;
}

/** The data an event carries once validated (the schema's output). */
export type EventData<C extends EventContract> = z.output<C['schema']>;
/** The data a publisher passes in (the schema's input). */
export type EventInput<C extends EventContract> = z.input<C['schema']>;

export interface EventDefinition<TType extends string, TSchema extends z.ZodType> {
  type: TType;
  version?: number;
  schema: TSchema;
  description: string;
  channel?: string;
  example?: z.input<TSchema>;
}

const TYPE_PATTERN = /^[a-z0-9]+([._-][a-z0-9]+)*$/i;

export function defineEvent<TType extends string, TSchema extends z.ZodType>(
  definition: EventDefinition<TType, TSchema>,
): EventContract<TType, TSchema> {
  if (!definition || typeof definition.type !== 'string' || !TYPE_PATTERN.test(definition.type)) {
    throw new ConfigError('type', 'must be a dotted name such as "ec2.launch.requested"');
  }
  const version = definition.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new ConfigError('version', `must be a whole number ≥ 1 (got ${String(definition.version)})`);
  }
  if (!definition.schema || typeof (definition.schema as { safeParse?: unknown }).safeParse !== 'function') {
    throw new ConfigError('schema', `must be a zod schema (event "${definition.type}")`);
  }
  if (typeof definition.description !== 'string' || definition.description.trim() === '') {
    throw new ConfigError('description', `is required so the event graph can explain "${definition.type}"`);
  }
  const channel = definition.channel ?? definition.type;
  if (!TYPE_PATTERN.test(channel)) {
    throw new ConfigError('channel', `"${channel}" must be a dotted name of letters, digits, "-" and "_"`);
  }
  return Object.freeze({
    // Flat: the type goes into every envelope JSON.stringify writes (see event-id.ts).
    type: flatString(definition.type) as TType,
    version,
    schema: definition.schema,
    description: definition.description,
    channel,
    ...(definition.example === undefined ? {} : { example: definition.example }),
  });
}

export type ParseResult<T> = { ok: true; data: T } | { ok: false; issues: ValidationIssue[] };

export function parseData<C extends EventContract>(contract: C, data: unknown): ParseResult<EventData<C>> {
  const result = contract.schema.safeParse(data);
  if (result.success) return { ok: true, data: result.data as EventData<C> };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.message,
    })),
  };
}
