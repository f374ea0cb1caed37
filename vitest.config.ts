import { defineConfig } from 'vitest/config';

// Tests run against package sources (the "@org/source" export condition), so no build is needed
// to test; CI still builds first to prove the published output is sound.
export default defineConfig({
  resolve: { conditions: ['@org/source'] },
  ssr: { resolve: { conditions: ['@org/source'], externalConditions: ['@org/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
