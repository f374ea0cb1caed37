import type { JetStreamManager } from '@nats-io/jetstream';
import type { Backlog } from '@org/eventbus';
import type { ResolvedOptions } from './options.js';
import { deferredStream } from './topology.js';
import { deferredDurable, deferredToken, groupDurable } from './wire.js';

/**
 * A group's backlog on JetStream: over its durable consumers (one per channel, named from group and
 * channel, found by recomputing the name from each consumer's filter subject, so two groups sharing
 * a prefix never mix) and its deferred-copies consumer, `num_pending` (not yet delivered) +
 * `num_ack_pending` (delivered, unacked: in flight, reported as `inFlight` for the channel consumers). JetStream keeps no oldest age per consumer
 * cheaply, so `oldestAgeMs` is left out. A group with no consumers has no backlog: 0.
 */
export async function groupBacklog(jsm: JetStreamManager, options: ResolvedOptions, group: string): Promise<Backlog> {
  let messages = 0;
  let inFlight = 0;
  const channelPrefix = `${options.prefix}.`;
  for await (const info of jsm.consumers.list(options.stream)) {
    const filter = info.config.filter_subject;
    if (!filter?.startsWith(channelPrefix)) continue;
    if (info.name !== groupDurable(group, filter.slice(channelPrefix.length))) continue;
    messages += info.num_pending + info.num_ack_pending;
    inFlight += info.num_ack_pending;
  }
  try {
    const deferred = await jsm.consumers.info(deferredStream(options), deferredDurable(deferredToken(group, false)));
    // A deferred copy is ack pending while the server holds it: waiting, not in flight.
    messages += deferred.num_pending + deferred.num_ack_pending;
  } catch {
    // No deferred stream or consumer yet: the group never deferred anything.
  }
  return { messages, inFlight };
}
