import type { EventContract } from '../contract.js';

/** An event in the graph: who produces it, who consumes it, and what it leads to. */
export interface EventNode {
  readonly type: string;
  /** Missing when something emits or handles a type that has no contract (a finding). */
  readonly contract?: EventContract;
  /** Publishers (entry points) and handlers that produce it, by name. */
  readonly publishers: readonly string[];
  readonly emittedBy: readonly string[];
  /** Handlers that consume it, by name. */
  readonly consumers: readonly string[];
  /** Types its consumers may emit. */
  readonly leadsTo: readonly string[];
  /** Types whose consumers may emit it. */
  readonly causedBy: readonly string[];
}

export interface HandlerNode {
  readonly name: string;
  readonly group: string;
  readonly on: string;
  readonly emits: readonly string[];
  readonly description?: string;
}

export interface PublisherNode {
  readonly name: string;
  readonly publishes: readonly string[];
  readonly description?: string;
}

export type FindingCode = 'unhandled-event' | 'emit-without-contract' | 'missing-contract' | 'unproduced-event' | 'cycle';

export interface Finding {
  /** Errors fail `eventbus docs`; warnings are reported (some cycles and loose ends are meant). */
  readonly severity: 'error' | 'warning';
  readonly code: FindingCode;
  /** The event type (or, for a cycle, the first type of it) the finding is about. */
  readonly subject: string;
  readonly message: string;
  /** For a cycle: the types in order, ending where it started. */
  readonly path?: readonly string[];
}

/** producers → events → handlers (by group) → emitted events, every list sorted so output is stable. */
export interface EventGraph {
  readonly title: string;
  readonly description?: string;
  readonly version?: string;
  readonly events: readonly EventNode[];
  readonly handlers: readonly HandlerNode[];
  readonly publishers: readonly PublisherNode[];
  readonly findings: readonly Finding[];
}
