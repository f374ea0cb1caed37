import { inspect } from 'node:util';
import { type Delivery, type Logger, TransportError } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bodyOf, message, testTransport } from './helpers.js';
import { SASL_USER, SaslBroker } from './sasl-broker.js';

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const line = (obj: object, msg?: string) => lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  return { logger: { debug: line, info: line, warn: line, error: line }, lines };
}

/** Against a private broker that checks SASL/PLAIN credentials (started here, stopped after). */
describeBroker('kafka SASL', { variable: 'EVENTBUS_KAFKA_BROKERS' }, () => {
  const broker = new SaslBroker(`right-${Date.now()}`);
  beforeAll(() => broker.start(), 240_000);
  afterAll(() => broker.stop(), 60_000);

  it('the right password connects, publishes and consumes', async () => {
    const t = testTransport(broker.address, { sasl: { mechanism: 'PLAIN', username: SASL_USER, password: broker.password } });
    try {
      const seen = createSpy<number>();
      await t.subscribe({ group: 'sasl-g', channels: ['sasl-ok'], prefetch: 5 }, async (d: Delivery) => {
        seen.fn(bodyOf(d.message.body).n);
        await d.ack();
      });
      await t.publish([message('sasl-ok', 1)]);
      expect(await seen.waitForCount(1, { timeoutMs: 30_000 })).toEqual([1]);
    } finally {
      await t.close();
    }
  }, 60_000);

  it('a wrong password fails connect() at once: "authentication failed for user", one warning, the password nowhere', async () => {
    const password = `wrong-${Date.now()}`;
    const { logger, lines } = recordingLogger();
    const t = testTransport(broker.address, { sasl: { mechanism: 'PLAIN', username: SASL_USER, password }, logger });
    const started = Date.now();
    const error = await t.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - started;
    await t.close();
    expect(error).toBeInstanceOf(TransportError);
    const text = (error as Error).message;
    expect(text).toContain(`authentication failed for user "${SASL_USER}"`);
    expect(took).toBeLessThan(3000);
    for (const output of [text, (error as Error).stack ?? '', inspect(t, { showHidden: true, depth: 10 }), JSON.stringify(t), ...lines]) {
      expect(output).not.toContain(password);
    }
    expect(lines.filter((l) => l.includes('authentication failed'))).toHaveLength(1);
    console.log(`[sasl] wrong password: connect() failed in ${took} ms: ${text}`);
  }, 30_000);
});
