/**
 * What message-queue-toolkit needs around it in a benchmark: its message shape (id, type,
 * timestamp next to the payload, validated by zod on publish and consume), quiet dependencies, and
 * a handler list with one handler.
 */
import { MessageHandlerConfigBuilder, type QueueConsumerDependencies, type QueueDependencies } from '@message-queue-toolkit/core';
import { z } from 'zod';
import { PAYLOAD } from './harness.js';

export const MQT_TYPE = 'bench.mqt.measured';
export const MqtSchema = z.object({
  id: z.string(),
  type: z.literal(MQT_TYPE),
  timestamp: z.string(),
  seq: z.number().int(),
  sentAt: z.number(),
  payload: z.string(),
});
export type MqtMessage = z.infer<typeof MqtSchema>;

/** One message; the id and timestamp are what MQT's publishers read and would otherwise add (and log). */
export const mqtMessage = (seq: number): MqtMessage => ({
  id: crypto.randomUUID(),
  type: MQT_TYPE,
  timestamp: new Date().toISOString(),
  seq,
  sentAt: performance.now(),
  payload: PAYLOAD,
});

const noop = () => {};
/** A logger that drops everything (MQT logs per message otherwise). */
export const quietLogger: QueueDependencies['logger'] = {
  msgPrefix: '',
  level: 'silent',
  isLevelEnabled: () => false,
  fatal: noop,
  error: noop,
  warn: noop,
  info: noop,
  debug: noop,
  trace: noop,
  silent: noop,
  child() {
    return quietLogger;
  },
};

export const quietDependencies: QueueDependencies & Pick<QueueConsumerDependencies, 'transactionObservabilityManager'> = {
  logger: quietLogger,
  errorReporter: { report: noop },
  transactionObservabilityManager: { start: noop, stop: noop, startWithGroup: noop, addCustomAttributes: noop },
};

export const mqtOptions = { messageTypeResolver: { messageTypePath: 'type' }, handlerSpy: false, logMessages: false } as const;

/** The handler list for a consumer whose handler reports the event's `sentAt`. */
export function mqtHandlers<Context>(onEvent: (sentAt: number) => void) {
  return new MessageHandlerConfigBuilder<MqtMessage, Context>()
    .addConfig(MqtSchema, async (message) => {
      onEvent(message.sentAt);
      return { result: 'success' as const };
    })
    .build();
}
