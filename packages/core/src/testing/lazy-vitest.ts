// What the published `@org/eventbus/testing` build imports in place of 'vitest' (tsup.config.ts maps it
// here), so vitest — an optional peer — loads only when a vitest-driven helper runs: `require` of the
// testing entry from CommonJS, or its import by a user without vitest, must not load it. The workspace
// runs the sources, which import 'vitest' directly.
//
// describe/it must run synchronously while vitest collects a file, so vitest is loaded with require():
// its ESM entry, which Node (20.19+, 22.12+) returns from the module cache as the same instance the runner
// already imported. Its "require" entry only throws, so the ESM file is resolved from its exports.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Vitest from 'vitest';

type VitestModule = typeof Vitest;
let loaded: VitestModule | undefined;

function vitest(): VitestModule {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve('vitest/package.json');
  } catch {
    throw new Error('@org/eventbus/testing: this helper runs inside vitest, an optional peer dependency: install vitest (npm i -D vitest)');
  }
  const exportsField = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: { '.': { import: { default: string } | string } } }).exports['.'].import;
  const entry = join(dirname(manifest), typeof exportsField === 'string' ? exportsField : exportsField.default);
  loaded = require(entry) as VitestModule;
  return loaded;
}

/**
 * A stand-in for one vitest export: calls and property reads (describe.skipIf, it.skip.each, expect.poll) go
 * to the real one, unbound, as vitest's chainable API expects (it keeps its state in closures, not `this`).
 */
function lazy<K extends keyof VitestModule>(name: K): VitestModule[K] {
  const target = (() => {}) as unknown as VitestModule[K] & object;
  return new Proxy(target, {
    apply: (_t, self, args: unknown[]) => Reflect.apply(vitest()[name] as (...a: unknown[]) => unknown, self, args),
    get: (_t, key) => Reflect.get(vitest()[name] as object, key),
  });
}

export const describe = lazy('describe');
export const it = lazy('it');
export const test = lazy('test');
export const expect = lazy('expect');
export const beforeAll = lazy('beforeAll');
export const afterAll = lazy('afterAll');
export const beforeEach = lazy('beforeEach');
export const afterEach = lazy('afterEach');
export const vi = lazy('vi');
