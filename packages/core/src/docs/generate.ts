import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildEventGraph } from '../graph/build.js';
import type { EventGraph } from '../graph/model.js';
import type { EventRegistry } from '../graph/registry.js';
import { renderAsyncApi } from './asyncapi.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import { documentGraph } from './model.js';

export const DOC_FILES = { markdown: 'README.md', asyncapi: 'asyncapi.json', html: 'index.html' } as const;

export interface GeneratedDocs {
  readonly graph: EventGraph;
  /** File name → content; the same registry always gives the same bytes. */
  readonly files: ReadonlyMap<string, string>;
}

export function generateDocs(registry: EventRegistry): GeneratedDocs {
  const graph = buildEventGraph(registry);
  const model = documentGraph(graph);
  const files = new Map<string, string>([
    [DOC_FILES.markdown, renderMarkdown(model)],
    [DOC_FILES.asyncapi, renderAsyncApi(model)],
    [DOC_FILES.html, renderHtml(model)],
  ]);
  return { graph, files };
}

export async function writeDocs(outDir: string, docs: GeneratedDocs): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, content] of docs.files) {
    await writeFile(join(outDir, name), content, 'utf8');
    written.push(join(outDir, name));
  }
  return written;
}

/** Files in `outDir` that are missing or differ from what the registry generates now. */
export async function staleDocs(outDir: string, docs: GeneratedDocs): Promise<{ file: string; reason: 'missing' | 'differs' }[]> {
  const stale: { file: string; reason: 'missing' | 'differs' }[] = [];
  for (const [name, content] of docs.files) {
    const path = join(outDir, name);
    const current = await readFile(path, 'utf8').catch(() => undefined);
    if (current === undefined) stale.push({ file: path, reason: 'missing' });
    else if (current !== content) stale.push({ file: path, reason: 'differs' });
  }
  return stale;
}
