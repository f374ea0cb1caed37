import { describe, expect, it } from 'vitest';
import { createTransport, loadAdapter } from './create-transport.js';
import { ConfigError } from './errors.js';
import { MemoryTransport } from './memory/transport.js';

describe('createTransport', () => {
  it('memory:// needs no package', async () => {
    expect(await createTransport('memory://')).toBeInstanceOf(MemoryTransport);
  });

  it('an unknown scheme fails naming the scheme and the supported ones', async () => {
    await expect(createTransport('mqtt://127.0.0.1:1883')).rejects.toThrow(ConfigError);
    await expect(createTransport('mqtt://127.0.0.1:1883')).rejects.toThrow(/unknown scheme "mqtt:\/\/".*amqp:\/\//);
  });

  it('a URL that is not one fails without echoing secrets', async () => {
    await expect(createTransport('not a url with amqp://u:pw@h')).rejects.toThrow(ConfigError);
    await expect(createTransport('not a url with amqp://u:pw@h')).rejects.not.toThrow(/pw@/);
  });

  it('a scheme whose adapter package is not installed names the package to install', async () => {
    await expect(loadAdapter('@org/eventbus-not-installed', 'kafka:')).rejects.toThrow(ConfigError);
    await expect(loadAdapter('@org/eventbus-not-installed', 'kafka:')).rejects.toThrow(
      /@org\/eventbus-not-installed is not installed \(the scheme "kafka:\/\/" needs it\): install @org\/eventbus-not-installed/,
    );
  });
});
