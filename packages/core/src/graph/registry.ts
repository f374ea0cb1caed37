import type { EventContract } from '../contract.js';
import { ConfigError } from '../errors.js';

/** A reference to an event: its contract, or only its type when no contract exists (a finding). */
export type EventRef = EventContract | string;

/** A handler as the event graph sees it: the event it consumes, its group, the events it emits. */
export interface HandlerDeclaration {
  readonly name: string;
  readonly group: string;
  readonly on: EventRef;
  readonly emits: readonly EventRef[];
  readonly description?: string;
}

/** An entry point outside any handler — an HTTP route, a script, a cron job — and what it publishes. */
export interface PublisherDeclaration {
  readonly name: string;
  readonly publishes: readonly EventRef[];
  readonly description?: string;
}

/** Everything the graph and the docs need, without a transport: read from a bus or written by hand. */
export interface EventRegistry {
  readonly title: string;
  readonly description?: string;
  /** The API version written into the AsyncAPI document. */
  readonly version?: string;
  readonly contracts: readonly EventContract[];
  readonly handlers: readonly HandlerDeclaration[];
  readonly publishers: readonly PublisherDeclaration[];
}

export interface RegistryInput {
  title: string;
  description?: string;
  version?: string;
  contracts?: readonly EventContract[];
  handlers?: readonly HandlerDeclaration[];
  publishers?: readonly PublisherDeclaration[];
}

export function typeOf(ref: EventRef): string {
  return typeof ref === 'string' ? ref : ref.type;
}

export function isContract(value: unknown): value is EventContract {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Partial<EventContract>;
  return typeof c.type === 'string' && typeof c.channel === 'string' && typeof c.description === 'string' && c.schema !== undefined;
}

/**
 * A hand-written registry (contracts + handler and publisher declarations). Every contract a handler
 * or publisher references is added to `contracts`, so listing them twice is not needed.
 */
export function defineRegistry(input: RegistryInput): EventRegistry {
  if (!input || typeof input.title !== 'string' || input.title.trim() === '') {
    throw new ConfigError('title', 'is required: it heads the generated docs');
  }
  const handlers = input.handlers ?? [];
  const publishers = input.publishers ?? [];
  for (const h of handlers) {
    if (!h.name || !h.group || h.on === undefined) throw new ConfigError('handlers', 'each needs a name, a group and the event it is "on"');
  }
  for (const p of publishers) {
    if (!p.name || !Array.isArray(p.publishes)) throw new ConfigError('publishers', 'each needs a name and a list of events it publishes');
  }
  const contracts = new Map<string, EventContract>();
  const add = (ref: EventRef) => {
    if (typeof ref === 'string') return;
    const known = contracts.get(ref.type);
    if (known && known !== ref && (known.version !== ref.version || known.channel !== ref.channel)) {
      throw new ConfigError('contracts', `two different contracts for type "${ref.type}"`);
    }
    if (!known) contracts.set(ref.type, ref);
  };
  for (const c of input.contracts ?? []) add(c);
  for (const h of handlers) [h.on, ...h.emits].forEach(add);
  for (const p of publishers) p.publishes.forEach(add);
  return Object.freeze({
    title: input.title,
    ...(input.description === undefined ? {} : { description: input.description }),
    ...(input.version === undefined ? {} : { version: input.version }),
    contracts: [...contracts.values()],
    handlers: [...handlers],
    publishers: [...publishers],
  });
}

export function isRegistry(value: unknown): value is EventRegistry {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Partial<EventRegistry>;
  return typeof r.title === 'string' && Array.isArray(r.contracts) && Array.isArray(r.handlers) && Array.isArray(r.publishers);
}
