import { randomBytes } from 'node:crypto';
import { createEnvelope, encodeBinary, type OutgoingMessage } from '@org/eventbus';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { deleteTopology, NatsTransport, type NatsTransportOptions } from '../src/index.js';
import { streamNameFor } from '../src/options.js';

export const URL_VARIABLE = 'EVENTBUS_NATS_URL';

/** A subject prefix unique to this run, so reruns and parallel workers never share a stream. */
export function runPrefix(label = 't'): string {
  return `ebtest-${label}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export function cloudEventMessage(channel: string, data: unknown, type = 'test.event'): OutgoingMessage {
  const event = createEnvelope(type, 1, '/tests/nats', data);
  const { headers, body } = encodeBinary(event, 'ce-');
  return { channel, id: event.id, headers, body };
}

export function json(body: Uint8Array): unknown {
  return JSON.parse(Buffer.from(body).toString('utf8'));
}

/** Delete the channel and dead-letter streams of a prefix (test runs leave nothing behind). */
export function deleteStreams(url: string, prefix: string): Promise<void> {
  return deleteTopology({ servers: url, prefix });
}

/**
 * Break the dead-letter path on the broker: the dead-letter stream of this prefix refuses every
 * message (max_msg_size 1, a final "message size exceeds maximum allowed" on the publish ack).
 * The stream is shared by the prefix's groups. Resolves to the repair (max_msg_size -1).
 */
export async function refuseDeadLetters(url: string, prefix: string): Promise<() => Promise<void>> {
  const setMaxMsgSize = async (maxMsgSize: number) => {
    const nc = await connect({ servers: url.replace(/^nats:\/\//, '') });
    try {
      const jsm = await jetstreamManager(nc);
      const name = `${streamNameFor(prefix)}_DEAD_LETTERS`;
      const info = await jsm.streams.info(name);
      await jsm.streams.update(name, { ...info.config, max_msg_size: maxMsgSize });
    } finally {
      await nc.close();
    }
  };
  await setMaxMsgSize(1);
  return () => setMaxMsgSize(-1);
}

/** Transports made here share one run prefix; `cleanup()` closes them and deletes the streams. */
export class Fixture {
  readonly prefix = runPrefix();
  private readonly transports: NatsTransport[] = [];
  private seq = 0;

  constructor(private readonly url: () => string) {}

  transport(options: Partial<NatsTransportOptions> = {}): NatsTransport {
    const transport = new NatsTransport({ servers: this.url(), prefix: this.prefix, ackWaitMs: 3000, ...options });
    this.transports.push(transport);
    return transport;
  }

  name(label: string): string {
    return `${label}-${++this.seq}`;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close().catch(() => {})));
    await deleteStreams(this.url(), this.prefix);
  }
}

/**
 * A Fixture and a plain @nats-io connection for one describe block (interop, provisioning, dead-letter
 * tests): connected before its tests; afterwards the connection, every transport and the run's streams go.
 */
export function withPlainClient(url: () => string): { fixture: Fixture; client: () => NatsConnection } {
  const fixture = new Fixture(url);
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    nc = await connect({ servers: url().replace(/^nats:\/\//, '') });
  });
  afterAll(async () => {
    await nc?.close();
    await fixture.cleanup();
  });
  return {
    fixture,
    client: () => {
      if (!nc) throw new Error('the plain NATS client is connected in beforeAll');
      return nc;
    },
  };
}

