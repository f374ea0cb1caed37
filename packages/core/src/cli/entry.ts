import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Import the app module a CLI command was pointed at (`--entry`), relative to `cwd`. A TypeScript
 * entry that fails to import gets an error that says how to run it: Node 20 refuses .ts outright, and
 * Node ≥ 22.18 strips types itself and then fails on the entry's `./x.js` imports of .ts files —
 * either way, what the user lacks is tsx.
 */
export async function loadEntry(entry: string, cwd = process.cwd()): Promise<Record<string, unknown>> {
  const url = pathToFileURL(resolve(cwd, entry)).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (/\.[cm]?tsx?$/.test(entry)) {
      const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new Error(`cannot import ${entry} (${why}): a TypeScript entry needs tsx (run "node --import tsx …" or "npx tsx …")`);
    }
    throw error;
  }
}
