/**
 * What the bus is doing right now, per event type and per handler, for the live event graph
 * (`serveLiveGraph`) or any status page. It listens through `observeBus` — the one seam that observes
 * publishes and settles — and keeps only counters, per-second buckets and the last few dead letters, so
 * its memory does not grow with traffic.
 *
 *     const stats = new LiveStats();
 *     createEventBus({ transport, source, instrumentation: stats.instrumentation() });
 *
 * Counts are this process's: a service split into processes (API, workers) shows in each what that
 * process published and handled.
 */
import type { CloudEvent } from '../envelope.js';
import { combineInstrumentation } from '../observe/combine.js';
import { type BusListener, type DeliveryEndObservation, type DeliveryStartObservation, observeBus, type PublishObservation } from '../observe/observe-bus.js';
import { redact, redactValue } from '../redact.js';
import type { Instrumentation } from '../tracing/hooks.js';

export interface LiveStatsOptions {
  /** Rates are events per second over this many seconds. Default 10. */
  windowSeconds?: number;
  /** Dead-lettered events kept per handler (the newest). Default 20. */
  keepDeadLetters?: number;
  /** The clock, in ms (tests). Default Date.now. */
  now?: () => number;
}

export interface DeadLetterRecord {
  /** The event id (the details link). */
  readonly id: string;
  readonly type: string;
  readonly group: string;
  readonly reason: string;
  readonly attempt: number;
  /** ISO time it was dead-lettered. */
  readonly at: string;
  /** The event's data, as the handler received it. */
  readonly data: unknown;
}

export interface EventTypeStats {
  readonly type: string;
  readonly published: number;
  /** Published per second over the window. */
  readonly rate: number;
}

export interface HandlerStats {
  readonly group: string;
  readonly type: string;
  /** Settled deliveries (any outcome) per second over the window. */
  readonly rate: number;
  readonly inFlight: number;
  readonly acked: number;
  /** Deliveries nacked for another attempt (a retry to come). */
  readonly retries: number;
  readonly deadLetters: number;
  readonly deferred: number;
  readonly errors: number;
  /** The newest dead letters, newest first. */
  readonly recentDeadLetters: readonly DeadLetterRecord[];
}

export interface LiveSnapshot {
  /** ISO time of the snapshot. */
  readonly at: string;
  readonly windowSeconds: number;
  readonly events: readonly EventTypeStats[];
  readonly handlers: readonly HandlerStats[];
}

/** Counts per second over a sliding window, in a ring of one bucket per second. */
class RateWindow {
  private readonly counts: number[];
  private readonly seconds: number[];
  constructor(private readonly size: number) {
    this.counts = new Array<number>(size).fill(0);
    this.seconds = new Array<number>(size).fill(-1);
  }
  add(nowMs: number, n: number): void {
    const second = Math.floor(nowMs / 1000);
    const i = second % this.size;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.counts[i] = 0;
    }
    this.counts[i] = (this.counts[i] ?? 0) + n;
  }
  rate(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    let sum = 0;
    for (let i = 0; i < this.size; i++) {
      const s = this.seconds[i] ?? -1;
      if (s > second - this.size && s <= second) sum += this.counts[i] ?? 0;
    }
    return Math.round((sum / this.size) * 100) / 100;
  }
}

interface HandlerEntry {
  group: string;
  type: string;
  window: RateWindow;
  inFlight: number;
  acked: number;
  retries: number;
  deadLetters: number;
  deferred: number;
  errors: number;
  recent: DeadLetterRecord[];
}

/** The type a poison delivery (one that did not decode) is counted under. */
export const UNDECODED = '(undecoded)';

export class LiveStats implements BusListener {
  private readonly windowSeconds: number;
  private readonly keep: number;
  private readonly now: () => number;
  private readonly events = new Map<string, { published: number; window: RateWindow }>();
  private readonly handlers = new Map<string, HandlerEntry>();
  /** Events in flight, so a dead letter can show its data (observeBus tells ids, not bodies). */
  private readonly inFlightEvents = new Map<string, CloudEvent>();

  constructor(options: LiveStatsOptions = {}) {
    this.windowSeconds = options.windowSeconds ?? 10;
    this.keep = options.keepDeadLetters ?? 20;
    this.now = options.now ?? Date.now;
  }

  /** Give this to `createEventBus({ instrumentation })` (alone or in a list). */
  instrumentation(): Instrumentation {
    const bodies: Instrumentation = {
      receive: ({ group, event }) => {
        if (event) this.inFlightEvents.set(`${group}\u0000${event.id}`, event);
        // deliveryEnded forgets it, after reading it: the order of the two ends is not ours to rely on.
        return { end: () => {} };
      },
    };
    return combineInstrumentation([bodies, observeBus(this)]) as Instrumentation;
  }

  published(o: PublishObservation): void {
    if (o.error !== undefined) return;
    let entry = this.events.get(o.type);
    if (!entry) {
      entry = { published: 0, window: new RateWindow(this.windowSeconds) };
      this.events.set(o.type, entry);
    }
    entry.published += o.count;
    entry.window.add(this.now(), o.count);
  }

  deliveryStarted(o: DeliveryStartObservation): void {
    this.handler(o.group, o.type ?? UNDECODED).inFlight += 1;
  }

  deliveryEnded(o: DeliveryEndObservation): void {
    const entry = this.handler(o.group, o.type ?? UNDECODED);
    const bodyKey = `${o.group}\u0000${o.eventId}`;
    const event = o.eventId === undefined ? undefined : this.inFlightEvents.get(bodyKey);
    this.inFlightEvents.delete(bodyKey);
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.window.add(this.now(), 1);
    switch (o.outcome) {
      case 'ack':
        entry.acked += 1;
        break;
      case 'nack':
        entry.retries += 1;
        break;
      case 'defer':
        entry.deferred += 1;
        break;
      case 'error':
        entry.errors += 1;
        break;
      case 'dead-letter': {
        entry.deadLetters += 1;
        entry.recent.unshift({
          id: o.eventId ?? `poison-${this.now()}-${entry.deadLetters}`,
          type: entry.type,
          group: o.group,
          reason: redact(o.reason ?? 'dead-lettered'),
          attempt: o.attempt,
          at: new Date(this.now()).toISOString(),
          data: event === undefined ? undefined : redactValue(event.data),
        });
        entry.recent.length = Math.min(entry.recent.length, this.keep);
        break;
      }
    }
  }

  snapshot(): LiveSnapshot {
    const now = this.now();
    const byName = <T extends { type: string }>(a: T, b: T) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0);
    return {
      at: new Date(now).toISOString(),
      windowSeconds: this.windowSeconds,
      events: [...this.events].map(([type, e]) => ({ type, published: e.published, rate: e.window.rate(now) })).sort(byName),
      handlers: [...this.handlers.values()]
        .map(({ window, recent, ...counts }) => ({ ...counts, rate: window.rate(now), recentDeadLetters: [...recent] }))
        .sort((a, b) => byName(a, b) || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0)),
    };
  }

  /** A dead letter still kept, by event id. */
  deadLetter(id: string): DeadLetterRecord | undefined {
    for (const entry of this.handlers.values()) {
      const found = entry.recent.find((r) => r.id === id);
      if (found) return found;
    }
    return undefined;
  }

  private handler(group: string, type: string): HandlerEntry {
    const key = `${group}\u0000${type}`;
    let entry = this.handlers.get(key);
    if (!entry) {
      entry = { group, type, window: new RateWindow(this.windowSeconds), inFlight: 0, acked: 0, retries: 0, deadLetters: 0, deferred: 0, errors: 0, recent: [] };
      this.handlers.set(key, entry);
    }
    return entry;
  }
}
