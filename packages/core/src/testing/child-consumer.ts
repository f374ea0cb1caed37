// Entry point of the child process spawned by spawnChildConsumer (see child.ts).
import { decodeEvent } from '../codec.js';
import type { Transport } from '../transport.js';

interface Config {
  module: string;
  export?: string;
  group: string;
  channels: string[];
  prefetch: number;
}

const send = (msg: object) => process.send?.(msg);

async function main(): Promise<void> {
  const config = JSON.parse(process.env.EVENTBUS_CHILD_CONFIG ?? '{}') as Config;
  const mod = (await import(config.module)) as Record<string, unknown>;
  const build = mod[config.export ?? 'createConformanceTransport'] as () => Transport | Promise<Transport>;
  const transport = await build();
  await transport.connect();
  await transport.subscribe(
    { group: config.group, channels: config.channels, prefetch: config.prefetch },
    (delivery) => {
      const id = decodeEvent(delivery.message, transport.capabilities.encoding).id;
      send({ kind: 'delivery', id });
      // Never settle: this consumer is "mid-handler" until it is killed.
    },
  );
  send({ kind: 'ready' });
}

main().catch((error: unknown) => {
  send({ kind: 'error', error: String(error) });
  process.exit(1);
});
