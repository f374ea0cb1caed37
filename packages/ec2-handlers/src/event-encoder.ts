import {
  createEnvelope,
  encodeEvent,
  type OutgoingMessage,
  parseData,
  type Transport,
  ValidationError,
} from '@org/eventbus';
import type { EventEncoder } from '@org/eventbus-postgres';
import { EC2_SOURCE } from './contracts.js';

/**
 * What the outbox needs of a bus: validate, envelope and encode for `transport`'s wire, without
 * sending. A stand-in until core's `bus.encode` lands (branch h-core-struct); then this file goes.
 */
export function eventEncoder(transport: Transport, source = EC2_SOURCE): EventEncoder {
  return {
    transport,
    encode(contract, data, options = {}) {
      const parsed = parseData(contract, data);
      if (!parsed.ok) throw new ValidationError(contract.type, parsed.issues);
      const event = createEnvelope(contract.type, contract.version, source, parsed.data, options);
      const { headers, body } = encodeEvent(event, transport.capabilities.encoding);
      const message: OutgoingMessage = { channel: contract.channel, id: event.id, headers, body };
      if (event.partitionkey !== undefined) message.key = event.partitionkey;
      return { event, message };
    },
  };
}
