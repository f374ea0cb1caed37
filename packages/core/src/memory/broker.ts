import { ConfigError } from '../errors.js';
import { GroupQueue } from './group-queue.js';

/** The shared state behind every memory transport of one name: groups and their channel bindings. */
export class MemoryBroker {
  readonly groups = new Map<string, GroupQueue>();
  readonly deadLetters = new Map<string, GroupQueue>();
  private readonly bindings = new Map<string, Set<GroupQueue>>();

  constructor(readonly maxBacklog: number) {}

  group(name: string, channels: readonly string[]): GroupQueue {
    let queue = this.groups.get(name);
    if (!queue) {
      queue = new GroupQueue(name, this.maxBacklog, this.deadLetterQueue(name));
      this.groups.set(name, queue);
    }
    for (const channel of channels) {
      let bound = this.bindings.get(channel);
      if (!bound) {
        bound = new Set();
        this.bindings.set(channel, bound);
      }
      bound.add(queue);
    }
    return queue;
  }

  deadLetterQueue(group: string): GroupQueue {
    let queue = this.deadLetters.get(group);
    if (!queue) {
      queue = new GroupQueue(`${group}.dead-letter`, Number.POSITIVE_INFINITY, undefined);
      this.deadLetters.set(group, queue);
    }
    return queue;
  }

  route(channel: string): Iterable<GroupQueue> {
    return this.bindings.get(channel) ?? [];
  }

  /** Some group is bound to the channel (subscribed now or before, or provisioned). */
  routable(channel: string): boolean {
    return (this.bindings.get(channel)?.size ?? 0) > 0;
  }
}



/** Every memory broker of this process, by name. */
const brokers = new Map<string, MemoryBroker>();

/** The broker of this name, made on first use: transports sharing a name share channels and groups. */
export function brokerNamed(name: string, maxBacklog: number): MemoryBroker {
  let broker = brokers.get(name);
  if (!broker) {
    broker = new MemoryBroker(maxBacklog);
    brokers.set(name, broker);
  }
  return broker;
}

/**
 * For tests of the settle-failure edge: make the memory broker `broker` refuse, for `group`, the
 * dead-letter copy or a delayed redelivery, as a real broker can (a refused publish, a retry queue
 * that cannot be declared). Returns the repair. The conformance suite's `breakSettle` hook uses it.
 */
export function refuseSettles(broker: string, group: string, what: 'dead-letter' | 'delayed-nack'): () => void {
  const queue = brokers.get(broker)?.groups.get(group);
  if (!queue) throw new ConfigError('group', `no group "${group}" on memory broker "${broker}"`);
  queue.refusing.add(what);
  return () => {
    queue.refusing.delete(what);
  };
}

/** Forget every memory broker (between tests). */
export function resetMemoryBrokers(): void {
  for (const broker of brokers.values()) for (const q of broker.groups.values()) q.dispose();
  brokers.clear();
}
