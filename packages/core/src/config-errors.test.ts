// User mistakes that used to surface as TypeErrors from deep inside: each is a ConfigError saying what to do.
import { describe, expect, it } from 'vitest';
import { createEventBus } from './bus.js';
import { createTransport, loadAdapter } from './create-transport.js';
import { ConfigError } from './errors.js';
import { MemoryTransport } from './memory/transport.js';

describe('errors that say what to set', () => {
  it('createTransport(undefined) — an unset EVENTBUS_URL — says to set EVENTBUS_URL', async () => {
    const unset = process.env.EVENTBUS_URL_THAT_IS_NOT_SET as string;
    await expect(createTransport(unset)).rejects.toThrow(ConfigError);
    await expect(createTransport(unset)).rejects.toThrow(/got undefined: set EVENTBUS_URL/);
    await expect(createTransport('  ')).rejects.toThrow(/got an empty string: set EVENTBUS_URL/);
  });

  it('a missing adapter package is reported as a package to install, not as a bad option', async () => {
    const error = await loadAdapter('@org/eventbus-not-installed', 'kafka:').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe('url');
    expect((error as Error).message).toMatch(/^the adapter package @org\/eventbus-not-installed is not installed/);
    expect((error as Error).message).toMatch(/install @org\/eventbus-not-installed/);
    expect((error as Error).message).not.toMatch(/Invalid option/);
  });

  it('publish with something that is not a contract from defineEvent says so, and sends nothing', async () => {
    const transport = new MemoryTransport();
    const bus = createEventBus({ transport, source: '/test' });
    await bus.start();
    try {
      const notAContract = { type: 'x' } as unknown as Parameters<typeof bus.publish>[0];
      await expect(bus.publish(notAContract, {})).rejects.toThrow(ConfigError);
      await expect(bus.publish(notAContract, {})).rejects.toThrow(/needs an event contract from defineEvent\(\{ type, schema \}\).*type "x"/);
      await expect(bus.publish(undefined as unknown as typeof notAContract, {})).rejects.toThrow(/defineEvent.*got undefined/);
    } finally {
      await bus.stop();
    }
  });

  it('an error keeps its class name in what inspect shows', () => {
    expect(new ConfigError('url', 'bad').name).toBe('ConfigError');
    expect(ConfigError.name).toBe('ConfigError');
  });
});
