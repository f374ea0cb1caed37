import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'testing/child-consumer': 'src/testing/child-consumer.ts',
    'redis/index': 'src/redis/index.ts',
    cli: 'src/cli.ts',
  },
  format: ['esm', 'cjs'],
  // Shared chunks in CJS too, so `instanceof CoordinationUnavailableError` holds across `.` and `./redis`.
  splitting: true,
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  external: ['vitest', 'ioredis', '@opentelemetry/api', 'playwright-core'],
});
