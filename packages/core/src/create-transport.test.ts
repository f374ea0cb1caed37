import { afterAll, describe, expect, it } from 'vitest';
import { emptyApp, fixtureApp } from '../test/installed-fixtures.js';
import type { EventbusAdapter } from './adapter.js';
import { createTransport, installedAdapter, loadAdapter, transportFromUrl } from './create-transport.js';
import { ConfigError } from './errors.js';
import { installedPackages } from './installed-packages.js';
import { MemoryTransport } from './memory/transport.js';
import type { Transport } from './transport.js';

const app = fixtureApp();
const empty = emptyApp();
afterAll(() => {
  app.remove();
  empty.remove();
});

/** A third-party adapter handed over explicitly; its transport records what fromUrl got. */
function thirdParty(schemes: string[]): EventbusAdapter & { calls: { url: string; options: Record<string, unknown> | undefined }[] } {
  const calls: { url: string; options: Record<string, unknown> | undefined }[] = [];
  return {
    name: 'third-party',
    schemes,
    calls,
    fromUrl: (url, options) => {
      calls.push({ url, options });
      return new MemoryTransport({ broker: `third-party-${process.pid}` });
    },
  };
}

describe('createTransport', () => {
  it('memory:// needs no package', async () => {
    expect(await createTransport('memory://')).toBeInstanceOf(MemoryTransport);
  });

  it('an unknown scheme fails naming the scheme, the known ones and how to add one', async () => {
    const error = await transportFromUrl('mqtt://127.0.0.1:1883', {}, app.dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/unknown scheme "mqtt:\/\/"; supported: memory:\/\/, fixture:\/\/, broken:\/\/, amqp:\/\//);
    expect((error as Error).message).toContain('"eventbus": { "schemes": ["mqtt"] }');
    await expect(createTransport('mqtt://127.0.0.1:1883')).rejects.toThrow(/unknown scheme "mqtt:\/\/".*amqp:\/\//);
  });

  it('a URL that is not one fails without echoing secrets', async () => {
    await expect(createTransport('not a url with amqp://u:pw@h')).rejects.toThrow(ConfigError);
    await expect(createTransport('not a url with amqp://u:pw@h')).rejects.not.toThrow(/pw@/);
  });

  it('an installed adapter serves its scheme: found by its package.json, never by a list of names', async () => {
    const transport = (await transportFromUrl('FIXTURE://host:1?x=1', { prefix: 'p' }, app.dir)) as Transport & { url: string; options: object };
    // Core cannot resolve the name, so the entry comes from the package's folder and exports map, with
    // the process's conditions: vitest runs its workers with --conditions @org/source.
    expect(transport.name).toBe('fixture from src');
    expect(transport.url).toBe('FIXTURE://host:1?x=1');
    expect(transport.options).toEqual({ prefix: 'p' });
  });

  it('an adapter passed in options.adapters comes first, and does not reach fromUrl as an option', async () => {
    const adapter = thirdParty(['fixture', 'mqtt']);
    const transport = await transportFromUrl('fixture://h', { adapters: [adapter], prefix: 'p' }, app.dir);
    expect(transport).toBeInstanceOf(MemoryTransport);
    expect(adapter.calls).toEqual([{ url: 'fixture://h', options: { prefix: 'p' } }]);
    await createTransport('mqtt://broker:1883', { adapters: [adapter] });
    expect(adapter.calls.at(-1)?.url).toBe('mqtt://broker:1883');
    // One that serves another scheme is passed over.
    expect(await createTransport('memory://', { adapters: [adapter] })).toBeInstanceOf(MemoryTransport);
    expect(adapter.calls).toHaveLength(2);
  });

  it('something in options.adapters that is not an adapter fails naming the option', async () => {
    const notAnAdapter = { name: 'x', fromUrl: () => undefined } as unknown as EventbusAdapter;
    const error = await createTransport('mqtt://h', { adapters: [notAnAdapter] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe('adapters');
  });

  it('a package that declares a scheme but exports no adapter says what to export', async () => {
    const error = await transportFromUrl('broken://h', {}, app.dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^eventbus-fixture-broken declares URL schemes .* exports no adapter/);
    expect((error as Error).message).toContain('it needs `export const adapter: EventbusAdapter = { name, schemes, fromUrl }`');
  });

  it('a known scheme with nothing installed names the package to install', async () => {
    await expect(installedAdapter('kafka', empty.dir)).rejects.toThrow(ConfigError);
    await expect(installedAdapter('amqps', empty.dir)).rejects.toThrow(
      /^the adapter package @org\/eventbus-rabbitmq is not installed \(the scheme "amqps:\/\/" needs it\): install @org\/eventbus-rabbitmq/,
    );
    await expect(transportFromUrl('sqs://eu-west-1', {}, empty.dir)).rejects.toThrow(/install @org\/eventbus-sqs/);
  });

  it('a known adapter installed without the eventbus field is named as too old, not as missing', async () => {
    const error = await transportFromUrl('kafka://127.0.0.1:9092', {}, app.dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^@org\/eventbus-kafka is installed \(.*node_modules\/@org\/eventbus-kafka\) but its package.json does not declare the scheme "kafka".*upgrade it$/);
  });

  it('a scheme whose adapter package is not installed names the package to install', async () => {
    await expect(loadAdapter('@org/eventbus-not-installed', 'kafka:')).rejects.toThrow(ConfigError);
    await expect(loadAdapter('@org/eventbus-not-installed', 'kafka:')).rejects.toThrow(
      /@org\/eventbus-not-installed is not installed \(the scheme "kafka:\/\/" needs it\): install @org\/eventbus-not-installed/,
    );
  });
});

describe('installedPackages', () => {
  it('reads the eventbus field of every package in node_modules, scoped and symlinked ones too, once per folder', async () => {
    const found = await installedPackages(app.dir);
    expect(found.map((p) => [p.packageName, p.name, p.schemes]).sort()).toEqual([
      ['@fixture/eventbus-tools', 'tools', []],
      ['eventbus-fixture-adapter', 'fixture', ['fixture']],
      ['eventbus-fixture-broken', 'broken', ['broken']],
    ]);
    expect(installedPackages(app.dir)).toBe(installedPackages(app.dir));
    expect(await installedPackages(empty.dir)).toEqual([]);
  });
});
