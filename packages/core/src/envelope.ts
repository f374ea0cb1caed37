import { flatString, newEventId } from './event-id.js';

/**
 * A CloudEvents 1.0 event as eventbus carries it: the required attributes, the optional ones we use,
 * and the extensions for chains (correlationid, causationid), tracing (traceparent, tracestate) and
 * ordering (partitionkey, from the CloudEvents partitioning extension).
 */
export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  datacontenttype: string;
  dataschema?: string;
  subject?: string;
  correlationid?: string;
  causationid?: string;
  traceparent?: string;
  tracestate?: string;
  partitionkey?: string;
  data: T;
}

/** Attributes that travel next to the data (everything but `data`). */
export type CloudEventAttributes = Omit<CloudEvent, 'data'>;

export const CONTEXT_ATTRIBUTES = [
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'datacontenttype',
  'dataschema',
  'subject',
  'correlationid',
  'causationid',
  'traceparent',
  'tracestate',
  'partitionkey',
] as const satisfies readonly (keyof CloudEventAttributes)[];

export const REQUIRED_ATTRIBUTES = ['specversion', 'id', 'source', 'type'] as const;

export const JSON_CONTENT_TYPE = 'application/json';
export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';

export interface EnvelopeOptions {
  id?: string;
  subject?: string;
  time?: Date | string;
  correlationId?: string;
  causationId?: string;
  traceparent?: string;
  tracestate?: string;
  /** Ordering key: events with one key are handled in publish order where the broker orders. */
  key?: string;
}

/** `time` for events stamped now: one ISO string per millisecond, not one Date per event. */
let lastStampMs = -1;
let lastStamp = '';
function now(): string {
  const ms = Date.now();
  if (ms !== lastStampMs) {
    lastStampMs = ms;
    lastStamp = new Date(ms).toISOString();
  }
  return lastStamp;
}

const schemaUrns = new Map<string, Map<number, string>>();
/** `dataschema` names the contract and its version; built once per type and version. */
function schemaUrn(type: string, version: number): string {
  let versions = schemaUrns.get(type);
  if (versions === undefined) {
    versions = new Map();
    schemaUrns.set(type, versions);
  }
  let urn = versions.get(version);
  if (urn === undefined) {
    urn = flatString(`urn:eventbus:${type}:v${version}`);
    versions.set(version, urn);
  }
  return urn;
}

export function createEnvelope<T>(
  type: string,
  version: number,
  source: string,
  data: T,
  options: EnvelopeOptions = {},
): CloudEvent<T> {
  const id = options.id ?? newEventId();
  const time = options.time;
  const event: CloudEvent<T> = {
    specversion: '1.0',
    id,
    source,
    type,
    time: time === undefined ? now() : typeof time === 'string' ? time : time.toISOString(),
    datacontenttype: JSON_CONTENT_TYPE,
    dataschema: schemaUrn(type, version),
    // A new chain starts here unless the caller continues one.
    correlationid: options.correlationId ?? id,
    data,
  };
  if (options.subject !== undefined) event.subject = options.subject;
  if (options.causationId !== undefined) event.causationid = options.causationId;
  if (options.traceparent !== undefined) event.traceparent = options.traceparent;
  if (options.tracestate !== undefined) event.tracestate = options.tracestate;
  if (options.key !== undefined) event.partitionkey = options.key;
  return event;
}
