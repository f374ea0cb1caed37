import type { EventBus, PublishEventOptions } from '../bus.js';
import type { EventContract, EventData, EventInput } from '../contract.js';
import type { CloudEvent } from '../envelope.js';
import { ConfigError } from '../errors.js';
import type { PublisherDeclaration } from './registry.js';

// A global symbol, not a module-level WeakMap: the CLI may load the app's copy of core and its own.
const PUBLISHERS = Symbol.for('eventbus.graph.publishers');

/** An entry point's view of the bus: it may publish only what it declared. */
export interface Publisher<TPublishes extends EventContract> {
  readonly declaration: PublisherDeclaration;
  publish<C extends TPublishes>(contract: C, data: EventInput<C>, options?: PublishEventOptions): Promise<CloudEvent<EventData<C>>>;
}

export interface PublisherOptions<TPublishes extends readonly EventContract[]> {
  /** Names the entry point in the graph, e.g. "POST /launches" or "scripts/backfill". */
  name: string;
  publishes: TPublishes;
  description?: string;
}

/**
 * Declare an entry point that publishes outside any handler (an HTTP route, a script). The graph
 * shows it as a producer; publishing an event it did not declare fails at compile time and at run time.
 */
export function declarePublisher<const TPublishes extends readonly EventContract[]>(
  bus: EventBus,
  options: PublisherOptions<TPublishes>,
): Publisher<TPublishes[number]> {
  if (!options || typeof options.name !== 'string' || options.name === '') throw new ConfigError('name', 'is required for a publisher');
  if (!Array.isArray(options.publishes) || options.publishes.length === 0) {
    throw new ConfigError('publishes', `publisher "${options.name}" must declare at least one event`);
  }
  const declaration: PublisherDeclaration = Object.freeze({
    name: options.name,
    publishes: [...options.publishes],
    ...(options.description === undefined ? {} : { description: options.description }),
  });
  const list = publishersOf(bus) as PublisherDeclaration[];
  if (list.some((p) => p.name === declaration.name)) throw new ConfigError('name', `publisher "${declaration.name}" is declared twice`);
  if (!Object.hasOwn(bus, PUBLISHERS)) Object.defineProperty(bus, PUBLISHERS, { value: list, enumerable: false });
  list.push(declaration);
  const declared = new Set(declaration.publishes.map((c) => (typeof c === 'string' ? c : c.type)));
  return {
    declaration,
    publish(contract, data, publishOptions) {
      if (!declared.has(contract.type)) {
        return Promise.reject(
          new ConfigError('publishes', `publisher "${declaration.name}" published "${contract.type}" but declares only [${[...declared].join(', ')}]`),
        );
      }
      return bus.publish(contract, data, publishOptions);
    },
  };
}

/** The publishers declared on a bus so far. */
export function publishersOf(bus: EventBus): readonly PublisherDeclaration[] {
  return ((bus as unknown as Record<symbol, PublisherDeclaration[] | undefined>)[PUBLISHERS] ?? []) as readonly PublisherDeclaration[];
}
