import type { CloudEvent } from '../envelope.js';
import type { OtelAttributeValue } from './otel.js';

// OpenTelemetry messaging semantic conventions (v1.27+ names) plus the CloudEvents ones.
export const ATTR = {
  system: 'messaging.system',
  destination: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  messageId: 'messaging.message.id',
  conversationId: 'messaging.message.conversation_id',
  consumerGroup: 'messaging.consumer.group.name',
  deliveryCount: 'messaging.message.delivery_count',
  eventId: 'cloudevents.event_id',
  eventType: 'cloudevents.event_type',
  eventSource: 'cloudevents.event_source',
} as const;

/** Transport names mapped to the conventions' well-known `messaging.system` values. */
const SYSTEMS: Readonly<Record<string, string>> = { sqs: 'aws_sqs', sns: 'aws_sns', rabbitmq: 'rabbitmq', kafka: 'kafka' };

export function messagingSystem(transport: string): string {
  return SYSTEMS[transport] ?? transport;
}

export function eventAttributes(event: CloudEvent): Record<string, OtelAttributeValue> {
  const attributes: Record<string, OtelAttributeValue> = {
    [ATTR.messageId]: event.id,
    [ATTR.eventId]: event.id,
    [ATTR.eventType]: event.type,
    [ATTR.eventSource]: event.source,
  };
  if (event.correlationid !== undefined) attributes[ATTR.conversationId] = event.correlationid;
  return attributes;
}
