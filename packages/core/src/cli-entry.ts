import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Import the app module a CLI command was pointed at (`--entry`), relative to `cwd`. A TypeScript
 * entry without tsx gets an error that says how to run it instead of Node's unknown-extension one.
 */
export async function loadEntry(entry: string, cwd = process.cwd()): Promise<Record<string, unknown>> {
  const url = pathToFileURL(resolve(cwd, entry)).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?tsx?$/.test(entry)) {
      throw new Error(`cannot import ${entry}: a TypeScript entry needs tsx (run "node --import tsx …" or "npx tsx …")`);
    }
    throw error;
  }
}
