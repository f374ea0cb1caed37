import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { createEventBus, type EventBus, type EventBusOptions } from '../../bus.js';
import { defineEvent, type EventContract } from '../../contract.js';
import type { CloudEvent } from '../../envelope.js';
import type { ReceivedMessage, Transport } from '../../transport.js';
import { createSpy } from '../spy.js';
import type { ConformanceOptions, Endpoint, TransportFactory } from './options.js';

export const payloadSchema = z.object({
  n: z.number().int(),
  text: z.string().optional(),
  pad: z.string().optional(),
});

export type Payload = z.infer<typeof payloadSchema>;
export type PayloadContract = EventContract<string, typeof payloadSchema>;

/** Per-test resources: everything made here is stopped and closed after the test, pass or fail. */
export class Harness {
  private readonly buses: EventBus[] = [];
  private readonly transports: Transport[] = [];
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  readonly run = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly created = { groups: new Set<string>(), channels: new Set<string>() };

  constructor(
    private readonly factory: TransportFactory,
    private readonly removeCreated?: ConformanceOptions['cleanup'],
  ) {}

  /** A consumer group unique to this run; handed to the `cleanup` option afterwards. */
  group(): string {
    const group = this.name('g');
    this.created.groups.add(group);
    return group;
  }

  /** A name unique to this run: channels and groups never collide across reruns. */
  name(label: string): string {
    return `cf-${this.run}-${label}-${++this.seq}`;
  }

  contract(label: string, channel?: string): PayloadContract {
    const type = `conformance.${this.name(label)}`;
    this.created.channels.add(channel ?? type);
    return defineEvent({
      type,
      description: `conformance test event ${label}`,
      schema: payloadSchema,
      ...(channel === undefined ? {} : { channel }),
    });
  }

  async transport(endpoint?: Endpoint, factory: TransportFactory = this.factory, connect = true): Promise<Transport> {
    const transport = await factory(endpoint ? { endpoint } : {});
    this.transports.push(transport);
    if (connect) await transport.connect();
    return transport;
  }

  /** A bus on a new transport; `connect: false` leaves connecting to the transport's first use. */
  async bus(
    options: Partial<EventBusOptions> & { endpoint?: Endpoint; factory?: TransportFactory; connect?: boolean } = {},
  ): Promise<EventBus> {
    const { endpoint, factory, connect, ...rest } = options;
    const transport = rest.transport ?? (await this.transport(endpoint, factory, connect));
    const bus = createEventBus({
      source: '/conformance',
      defaults: { backoff: { initialMs: 20, maxMs: 200 }, maxAttempts: 5 },
      ...rest,
      transport,
    });
    this.buses.push(bus);
    return bus;
  }

  onCleanup(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    const settle = (p: Promise<unknown>) =>
      Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 15_000).unref())]);
    for (const fn of this.cleanups.splice(0).reverse()) await settle(Promise.resolve().then(fn));
    await Promise.all(this.buses.splice(0).map((b) => settle(b.stop())));
    await Promise.all(this.transports.splice(0).map((t) => settle(t.close())));
    if (this.removeCreated) {
      await settle(this.removeCreated({ groups: [...this.created.groups], channels: [...this.created.channels] }));
    }
  }
}

/** Create the group's queue/consumer on the broker (subscribe, then close) so later publishes are kept for it. */
export async function provisionGroup(
  harness: Harness,
  group: string,
  channels: string[],
  factory?: TransportFactory,
): Promise<void> {
  const transport = await harness.transport(undefined, factory);
  const subscription = await transport.subscribe({ group, channels, prefetch: 1 }, (d) => d.nack());
  await subscription.close();
}

export function ids(events: readonly CloudEvent[]): Set<string> {
  return new Set(events.map((e) => e.id));
}

export function missing(expected: Iterable<string>, seen: Set<string>): string[] {
  return [...expected].filter((id) => !seen.has(id));
}

export function scaled(n: number, scale: number | undefined): number {
  return Math.max(1, Math.round(n * (scale ?? 1)));
}

/**
 * Ids seen so far, kept incrementally: a predicate that rebuilt a Set from every call on every
 * delivery would make waiting on 10,000 events quadratic.
 */
export class SeenIds {
  readonly seen = new Set<string>();
  private pending: Set<string> | undefined;
  private readonly changed = createSpy<number>();

  add(id: string): void {
    this.seen.add(id);
    this.pending?.delete(id);
    this.changed.fn(this.seen.size);
  }

  /** Resolves once every id in `expected` was seen; rejects after `timeoutMs` naming how many are missing. */
  async waitForAll(expected: Iterable<string>, options: { timeoutMs?: number; description?: string } = {}): Promise<void> {
    this.pending = new Set([...expected].filter((id) => !this.seen.has(id)));
    const pending = this.pending;
    await this.changed
      .waitFor(() => pending.size === 0, options)
      .catch((error: Error) => {
        throw new Error(`${error.message}; ${pending.size} id(s) never arrived`);
      });
  }

  /** Resolves once at least `n` distinct ids were seen. */
  waitForCount(n: number, options: { timeoutMs?: number; description?: string } = {}): Promise<unknown> {
    return this.changed.waitFor(() => this.seen.size >= n, { description: `${n} distinct events`, ...options });
  }
}

/** Read a group's dead letters into a spy (subscribe it after the scenario is done breaking things). */
export async function readDeadLetters(h: Harness, group: string, channels: string[]) {
  const transport = await h.transport();
  const letters = createSpy<ReceivedMessage>();
  const sub = await transport.subscribe({ group, channels, prefetch: 20, deadLetters: true }, async (d) => {
    letters.fn(d.message);
    await d.ack();
  });
  h.onCleanup(() => sub.close());
  return { transport, letters };
}
