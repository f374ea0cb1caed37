// `pnpm bench <name>` runs bench/<name>.ts against the built packages; with no name it lists them.
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''));
const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.log(`usage: pnpm bench <${available.join('|')}>`);
  process.exit(name ? 1 : 0);
}
// Benchmarks measure the built packages, as users run them: sources through tsx carry per-closure
// name-keeping wrappers that cost a visible share of the hot path.
if (!existsSync(new URL('../packages/core/dist/index.js', import.meta.url))) {
  console.error('bench: build the packages first (npx pnpm@10.34.8 build)');
  process.exit(1);
}
await import(`./${name}.ts`);
