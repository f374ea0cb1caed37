import type { EventContract } from './contract.js';
import type { GroupTopology } from './transport.js';

/** One handler as the topology needs it: the group it runs in and the contract it handles. */
export interface HandledBy {
  readonly group: string;
  readonly contract: EventContract;
}

/**
 * The topology of every group that has handlers: its channels and, when one of those channels also
 * carries contracts the group does not handle, the types it does (SQS makes that an SNS filter
 * policy). Otherwise `types` is left out, so an unknown type on the channel still reaches the
 * pipeline and is dead-lettered as poison. `bus.start()` subscribes with exactly this, and
 * `bus.provision()` / `eventbus provision` declare it, so the two never disagree.
 */
export function groupTopologies(handlers: Iterable<HandledBy>, known: Iterable<EventContract>): GroupTopology[] {
  const byGroup = new Map<string, Map<string, EventContract>>();
  for (const { group, contract } of handlers) {
    let handled = byGroup.get(group);
    if (!handled) {
      handled = new Map();
      byGroup.set(group, handled);
    }
    handled.set(contract.type, contract);
  }
  const contracts = [...known];
  return [...byGroup].map(([group, handled]) => {
    const channels = [...new Set([...handled.values()].map((c) => c.channel))];
    const shared = contracts.some((c) => channels.includes(c.channel) && !handled.has(c.type));
    return shared ? { group, channels, types: [...handled.keys()] } : { group, channels };
  });
}
