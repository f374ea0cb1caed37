import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  type StreamConfig,
  StorageType,
} from '@nats-io/jetstream';
import { ConfigError, errorMessage } from '@org/eventbus';
import { nanos, type ServerInfo } from '@nats-io/transport-node';
import { deferredPrefixFor, type ResolvedOptions } from './options.js';

/** How many copies the streams and consumers get on the cluster this connection reached. */
export interface Replicas {
  stream: number;
  /** 0: as many as the stream. */
  consumer: number;
  /** Chosen by the user (an existing stream is moved to it), not derived from the cluster. */
  explicit: boolean;
}

/**
 * The servers the one we reached reports in its cluster: its INFO lists every server's client URL
 * (itself included) in connect_urls; a server outside a cluster has no `cluster` name.
 */
export function reportedClusterSize(info: Pick<ServerInfo, 'cluster' | 'connect_urls'> | undefined): number {
  if (!info?.cluster) return 1;
  return Math.max(1, new Set(info.connect_urls ?? []).size);
}

/** `replicas: 'auto'` → 3 on a cluster of 3 or more, else the cluster's size; a number is checked against it. */
export function replicasFor(options: Pick<ResolvedOptions, 'replicas' | 'consumerReplicas'>, clusterSize: number): Replicas {
  const { replicas, consumerReplicas } = options;
  const stream = replicas === 'auto' ? Math.min(3, clusterSize) : replicas;
  if (replicas !== 'auto' && replicas > clusterSize) {
    throw new ConfigError('replicas', `is ${replicas}, but the server reports a cluster of ${clusterSize} server(s): use at most ${clusterSize}, or 'auto'`);
  }
  if (consumerReplicas > stream) {
    throw new ConfigError('consumerReplicas', `is ${consumerReplicas}, more than the stream's ${stream} replica(s) on this cluster of ${clusterSize}`);
  }
  return { stream, consumer: consumerReplicas, explicit: replicas !== 'auto' };
}

type StreamSettings = Pick<StreamConfig, 'name' | 'subjects' | 'duplicate_window' | 'max_age' | 'num_replicas'>;

/** Set when a stream is created only: the server refuses to change a stream's retention. */
interface Creation {
  retention: RetentionPolicy;
}

function streamSettings(name: string, subject: string, options: ResolvedOptions, replicas: Replicas): StreamSettings {
  return {
    name,
    subjects: [subject],
    duplicate_window: nanos(options.duplicateWindowMs),
    max_age: nanos(options.maxAgeMs),
    num_replicas: replicas.stream,
  };
}

/**
 * Create the stream, or bring an existing one to these settings. Safe to run from many processes
 * at once: an add that loses the race becomes an update.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  wanted: StreamSettings,
  explicitReplicas = false,
  creation: Creation = { retention: RetentionPolicy.Limits },
): Promise<void> {
  try {
    const info = await jsm.streams.info(wanted.name);
    // Under replicas 'auto' a stream keeps the copies it was made with: a connect while a node is
    // down (a smaller cluster reported) must never shrink it.
    const settings = explicitReplicas ? wanted : { ...wanted, num_replicas: info.config.num_replicas };
    const same =
      info.config.subjects?.join(' ') === settings.subjects?.join(' ') &&
      info.config.duplicate_window === settings.duplicate_window &&
      info.config.max_age === settings.max_age &&
      info.config.num_replicas === settings.num_replicas;
    if (!same) await jsm.streams.update(settings.name, { ...info.config, ...settings });
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    await jsm.streams.add({
      ...wanted,
      retention: creation.retention,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
    });
  } catch (error) {
    // Another process created it between our info and add: converge on its config.
    if (!/already in use|exist/i.test(errorMessage(error))) throw error;
    const info = await jsm.streams.info(wanted.name);
    await jsm.streams.update(wanted.name, { ...info.config, ...wanted, ...(explicitReplicas ? {} : { num_replicas: info.config.num_replicas }) });
  }
}

/**
 * The channel stream (`<prefix>.>`), the dead-letter stream (`<deadLetterPrefix>.>`) and the
 * deferred stream (`<prefix>-deferred.>`). The deferred stream is a work queue without max_age: a
 * copy held for days must not age out, and each copy is read by one group's consumer, so the ack
 * that settles it also removes it (decision 0009).
 */
export async function ensureStreams(jsm: JetStreamManager, options: ResolvedOptions, replicas: Replicas): Promise<void> {
  await ensureStream(jsm, streamSettings(options.stream, `${options.prefix}.>`, options, replicas), replicas.explicit);
  await ensureStream(jsm, streamSettings(deadLetterStream(options), `${options.deadLetterPrefix}.>`, options, replicas), replicas.explicit);
  const deferred = { ...streamSettings(deferredStream(options), `${deferredPrefixFor(options.prefix)}.>`, options, replicas), max_age: 0 };
  await ensureStream(jsm, deferred, replicas.explicit, { retention: RetentionPolicy.Workqueue });
}

export function deadLetterStream(options: ResolvedOptions): string {
  return `${options.stream}_DEAD_LETTERS`;
}

export function deferredStream(options: ResolvedOptions): string {
  return `${options.stream}_DEFERRED`;
}

/** What a consumer of deferred copies sets apart from a channel consumer's settings. */
export const DEFERRED_CONSUMER: ConsumerOverrides = {
  // Held copies stay ack-pending on the server for their whole hold: a finite limit would let long
  // holds block the delivery of short ones (head-of-line), so none.
  maxAckPending: -1,
  // Copies are made for consumers that exist: a recreated consumer must still see all of them.
  deliverPolicy: 'all',
};

export interface ConsumerOverrides {
  maxAckPending?: number;
  deliverPolicy?: 'all' | 'new';
}

/** The server's max_deliver when a backoff table is set (it refuses -1 then): never reached in practice. */
const UNLIMITED_WITH_BACKOFF = 2_147_483_647;

/** A durable pull consumer with explicit acks, created or updated to these settings. */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  filterSubject: string,
  options: ResolvedOptions,
  replicas: Replicas,
  overrides: ConsumerOverrides = {},
): Promise<void> {
  const deliverPolicy = overrides.deliverPolicy ?? options.deliverPolicy;
  const updatable: Partial<ConsumerConfig> = {
    ack_wait: nanos(options.ackWaitMs),
    // Unlimited: a server that stops delivering after max_deliver drops the message for the group
    // silently; the subscription applies maxDeliver itself and dead-letters instead. A backoff table
    // needs a finite max_deliver on the server: the largest it takes then.
    max_deliver: options.backoffMs.length > 0 ? UNLIMITED_WITH_BACKOFF : -1,
    max_ack_pending: overrides.maxAckPending ?? options.maxAckPending,
    backoff: options.backoffMs.map((ms) => nanos(ms)),
  };
  const config: Partial<ConsumerConfig> = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
    filter_subject: filterSubject,
    max_waiting: 512,
    // Set at creation only: 0 follows the stream's replicas.
    num_replicas: replicas.consumer,
    ...updatable,
  };
  if (options.backoffMs.length === 0) delete config.backoff;
  try {
    const info = await jsm.consumers.info(stream, durable);
    const current = info.config;
    const same =
      current.ack_wait === updatable.ack_wait &&
      current.max_deliver === updatable.max_deliver &&
      current.max_ack_pending === updatable.max_ack_pending &&
      (current.backoff ?? []).join(',') === (config.backoff ?? []).join(',');
    if (!same) await jsm.consumers.update(stream, durable, { ...updatable, backoff: config.backoff ?? [] });
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  await jsm.consumers.add(stream, config);
}

function isNotFound(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  return code === 10059 || code === 10014 || /not found/i.test(errorMessage(error));
}
