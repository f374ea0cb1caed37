import type { EventBus } from '../bus.js';
import { ConfigError } from '../errors.js';
import { publishersOf } from './publisher.js';
import { defineRegistry, type EventRegistry, isRegistry } from './registry.js';

export interface DescribeOptions {
  title?: string;
  description?: string;
  version?: string;
}

function isBus(value: unknown): value is EventBus {
  if (typeof value !== 'object' || value === null) return false;
  const b = value as Partial<EventBus>;
  return Array.isArray(b.registrations) && b.contracts instanceof Map && typeof b.source === 'string';
}

/**
 * The registry of an app, from its bus (handlers, emits, declared publishers, known contracts) or
 * from a hand-written registry. Nothing is started: no broker, no consumer.
 */
export function describeApp(app: EventBus | EventRegistry, options: DescribeOptions = {}): EventRegistry {
  if (isRegistry(app)) {
    return defineRegistry({
      ...app,
      title: options.title ?? app.title,
      ...(options.description ?? app.description ? { description: options.description ?? app.description } : {}),
      ...(options.version ?? app.version ? { version: options.version ?? app.version } : {}),
    });
  }
  if (!isBus(app)) throw new ConfigError('app', 'must be an event bus (createEventBus) or a registry (defineRegistry)');
  return defineRegistry({
    title: options.title ?? app.source,
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.version === undefined ? {} : { version: options.version }),
    contracts: [...app.contracts.values()],
    handlers: app.registrations.map((r) => ({ name: r.name, group: r.group, on: r.contract, emits: r.emits })),
    publishers: publishersOf(app),
  });
}

/**
 * What `eventbus docs --entry` accepts from a module: an export named `registry`, `bus` or `default`,
 * holding a registry or a bus, or a (possibly async) function returning one.
 */
export async function registryFromModule(
  exports: Record<string, unknown>,
  options: DescribeOptions = {},
  exportName?: string,
): Promise<EventRegistry> {
  const name = exportName ?? ['registry', 'bus', 'default'].find((n) => exports[n] !== undefined);
  if (!name || exports[name] === undefined) {
    throw new ConfigError('entry', `must export ${exportName ? `"${exportName}"` : '`registry`, `bus` or a default export'} (an event bus or a registry)`);
  }
  let value: unknown = exports[name];
  if (typeof value === 'function') value = await (value as () => unknown)();
  if (!isRegistry(value) && !isBus(value)) {
    throw new ConfigError('entry', `export "${name}" is neither an event bus nor a registry`);
  }
  return describeApp(value, options);
}
