import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli.ts', 'demo-cli': 'src/demo-cli.ts', 'event-graph': 'src/event-graph.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // The Redis stores load only when EVENTBUS_REDIS_URL is set; ioredis stays an optional peer.
  external: ['@org/eventbus', '@org/eventbus/redis', 'ioredis'],
});
