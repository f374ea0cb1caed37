import { defineConfig } from 'tsup';

// The Redis stores load only when EVENTBUS_REDIS_URL is set, Postgres mode only when EC2_POSTGRES_URL
// is: ioredis, pg and @org/eventbus-postgres stay optional peers.
const external = ['@org/eventbus', '@org/eventbus/redis', 'ioredis', '@org/eventbus-postgres', 'pg'];

export default defineConfig([
  {
    entry: { index: 'src/index.ts', 'event-graph': 'src/event-graph.ts', postgres: 'src/postgres-mode.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    // Class names survive bundling: errors print as ConfigError, not _class2.
    keepNames: true,
    external,
  },
  {
    // The commands use top-level await: ESM only.
    entry: { cli: 'src/cli.ts', 'demo-cli': 'src/demo-cli.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    // Class names survive bundling: errors print as ConfigError, not _class2.
    keepNames: true,
    external,
  },
]);
