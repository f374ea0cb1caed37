import { DeliverPolicy, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type DeadLetterVisitor, EventbusHeaders, type ReceivedMessage } from '@org/eventbus';
import { deadLetterChannel, fromNatsHeaders, KEY_HEADER, type RawMessage } from './wire.js';

export interface DeadLetterScanTarget {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** The dead-letter stream and the group's subject in it. */
  stream: string;
  subject: string;
  /** Publish a redriven copy (the group's deferred subject for `channel`), resolving on the server's ack. */
  redrive(channel: string, copy: Omit<RawMessage, 'subject'>): Promise<void>;
}

/** How long one read waits for the next dead letter before the scan takes the subject as read. */
const NEXT_MS = 2_000;

/**
 * A scan of one group's dead letters: an ordered consumer on the group's subject of the dead-letter
 * stream reads each one stored when the scan began (up to the stream's last sequence then); the
 * stream keeps what it reads. A purge deletes the message by sequence; a redrive publishes a copy to
 * the group's deferred subject (decision 0009-delays-nats: only that group's consumer reads it, and
 * a copy due now is handed out at once) and deletes the dead letter once the server acked the copy.
 */
export async function scanDeadLetters(target: DeadLetterScanTarget, group: string, visit: DeadLetterVisitor): Promise<void> {
  const { jsm, stream, subject } = target;
  let last: number;
  try {
    last = (await jsm.streams.info(stream)).state.last_seq;
  } catch (error) {
    // No dead-letter stream yet: nothing was ever dead-lettered here.
    if (/not found/i.test(String(error))) return;
    throw error;
  }
  const consumer = await jetstream(target.nc).consumers.get(stream, { filter_subjects: subject, deliver_policy: DeliverPolicy.All });
  try {
    let pending = (await consumer.info(true)).num_pending;
    while (pending > 0) {
      const msg = await consumer.next({ expires: NEXT_MS });
      if (!msg || msg.seq > last) break;
      pending = msg.info.pending;
      const headers = fromNatsHeaders(msg.headers);
      const key = headers[KEY_HEADER] ?? headers['ce-partitionkey'];
      delete headers[KEY_HEADER];
      const message: ReceivedMessage = { channel: deadLetterChannel(msg.subject, headers), headers, body: msg.data };
      if (key !== undefined) message.key = key;
      const answer = await visit(message);
      if (answer.action === 'keep') continue;
      if (answer.action === 'redrive') {
        const copy: Record<string, string> = { ...answer.headers, [EventbusHeaders.notBefore]: String(Date.now()) };
        if (key !== undefined && copy['ce-partitionkey'] !== key) copy[KEY_HEADER] = key;
        // One id per dead letter: a retried publish is stored once.
        await target.redrive(message.channel, { id: `redrive:${group}:${stream}:${msg.seq}`, headers: copy, body: msg.data });
      }
      await jsm.streams.deleteMessage(stream, msg.seq);
    }
  } finally {
    await consumer.delete().catch(() => {});
  }
}
