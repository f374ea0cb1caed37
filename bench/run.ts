// `pnpm bench <name>` runs bench/<name>.ts; with no name it lists them.
import { readdirSync } from 'node:fs';
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
await import(`./${name}.ts`);
