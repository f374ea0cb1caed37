import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // Class names survive bundling: errors print as ConfigError, not _class2.
  keepNames: true,
  // pg stays a dependency, loaded from node_modules.
  external: ['pg'],
  // migrate() finds the shipped SQL files from import.meta.url, in the CommonJS build too.
  shims: true,
});
