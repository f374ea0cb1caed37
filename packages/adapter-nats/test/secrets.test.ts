import { inspect } from 'node:util';
import { type Logger, TransportError } from '@org/eventbus';
import { createSpy, describeBroker, type Spy, startTcpProxy } from '@org/eventbus/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromUrl, NatsTransport } from '../src/index.js';
import { Fixture, runPrefix, URL_VARIABLE } from './helpers.js';
import { PrivateNatsServer } from './private-server.js';

const SECRET = 'pa55-w0rd-never-shown';

/** A logger that keeps every line as text (`<level> <msg> <fields>`), to wait on and search for the secret. */
function recordingLogger(): { logger: Logger; lines: Spy<string> } {
  const lines = createSpy<string>();
  const line = (level: string) => (obj: object, msg?: string) => lines.fn(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  return { logger: { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') }, lines };
}

describe('NatsTransport secrets', () => {
  it('util.inspect and JSON.stringify show a summary without the password or token', async () => {
    for (const transport of [
      fromUrl(`nats://app:${SECRET}@127.0.0.1:4222?prefix=orders`),
      new NatsTransport({ servers: 'nats://127.0.0.1:4222', user: 'app', pass: SECRET }),
      fromUrl(`nats://${SECRET}@127.0.0.1:4222`),
    ]) {
      const shown = `${inspect(transport, { depth: 10, showHidden: true })} ${JSON.stringify(transport)}`;
      expect(shown).not.toContain(SECRET);
      expect(shown).toContain('127.0.0.1:4222');
      await transport.close();
    }
  });
});

describe('NatsTransport against a server that checks credentials', () => {
  const server = new PrivateNatsServer(['--user', 'app', '--pass', 'right-password']);
  beforeAll(() => server.start(), 20_000);
  afterAll(() => server.stop());

  it('a wrong password fails fast with "authentication failed for user", and the password is nowhere', async () => {
    const { logger, lines } = recordingLogger();
    const transport = fromUrl(`nats://app:${SECRET}@127.0.0.1:${server.port}`, { logger });
    const started = Date.now();
    const error = await transport.connect().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(TransportError);
    expect(error?.message).toMatch(/authentication failed for user "app"/);
    const everything = `${error?.message} ${error?.stack} ${inspect(error, { depth: 10 })} ${lines.calls.join('\n')} ${inspect(transport)}`;
    expect(everything).not.toContain(SECRET);
    await transport.close();
  });

  it('the right password connects and works', async () => {
    const transport = new NatsTransport({ servers: server.url, user: 'app', pass: 'right-password', prefix: runPrefix('auth') });
    await transport.connect();
    await transport.close();
  });
});

describeBroker('NatsTransport logging', { variable: URL_VARIABLE }, (url) => {
  const fixture = new Fixture(url);
  afterAll(() => fixture.cleanup());

  it('a lost connection is one warning line (no password), its return one info line', async () => {
    const target = new URL(url());
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 4222) });
    try {
      const { logger, lines } = recordingLogger();
      const transport = fixture.transport({ servers: `nats://app:${SECRET}@${proxy.host}:${proxy.port}`, logger });
      await transport.connect();
      proxy.cut();
      await lines.waitFor((l) => l.some((line) => line.startsWith('info NATS connection restored')), { timeoutMs: 10_000 });
      const warnings = lines.calls.filter((line) => line.startsWith('warn'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/NATS connection lost; reconnecting/);
      expect(lines.calls.join('\n')).not.toContain(SECRET);
    } finally {
      await proxy.close();
    }
  });
});
