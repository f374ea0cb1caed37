import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';

type Plugin = NonNullable<Options['esbuildPlugins']>[number];

const lazyVitest = fileURLToPath(new URL('./src/testing/lazy-vitest.ts', import.meta.url));

/**
 * vitest is an optional peer that only the conformance suite and describeBroker drive: the build
 * imports it through src/testing/lazy-vitest.ts, so `@org/eventbus/testing` loads (from ESM and from
 * CommonJS) without vitest and loads it on first use. The sources keep a plain `import 'vitest'`.
 */
const vitestOnFirstUse: Plugin = {
  name: 'vitest-on-first-use',
  setup(build) {
    build.onResolve({ filter: /^vitest$/ }, (args) =>
      args.importer === lazyVitest ? { path: 'vitest', external: true } : { path: lazyVitest },
    );
  },
};

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'testing/chromium': 'src/testing/chromium.ts',
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
  // Class names survive bundling (errors print as ConfigError, not _class2); import.meta.url works in CJS.
  keepNames: true,
  shims: true,
  external: ['ioredis', '@opentelemetry/api', 'playwright-core'],
  // vitest is a peer, which tsup would leave external before the plugin sees it.
  noExternal: ['vitest'],
  esbuildPlugins: [vitestOnFirstUse],
});
