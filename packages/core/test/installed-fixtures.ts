import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packages = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/eventbus-packages');

/**
 * An app folder outside the workspace whose node_modules links the fixture packages, as pnpm links
 * installed ones: a third-party adapter (scheme fixture://, command hello), a package with commands
 * only (tools count), one declaring a scheme without an `adapter` export (broken://), an unrelated one, and an
 * @org/eventbus-kafka from before the `eventbus` field.
 */
export function fixtureApp(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'eventbus-app-'));
  const link = (folder: string, name: string) => {
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true });
    symlinkSync(join(packages, folder), join(dir, 'node_modules', name), 'dir');
  };
  link('fixture-adapter', 'eventbus-fixture-adapter');
  link('fixture-tools', '@fixture/eventbus-tools');
  link('fixture-broken', 'eventbus-fixture-broken');
  link('fixture-unrelated', 'unrelated-package');
  link('fixture-old-kafka', '@org/eventbus-kafka');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A folder with no node_modules above it: nothing installed. */
export function emptyApp(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'eventbus-empty-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
