import { resolve } from 'node:path';
import { generateDocs, staleDocs, writeDocs } from '../docs/generate.js';
import { count, findingLine } from '../docs/markdown.js';
import { registryFromModule } from '../graph/describe-app.js';
import { type Command, type CommandIo, parseCommandLine } from './command.js';
import { loadEntry } from './entry.js';

export const DOCS_USAGE = `Usage: eventbus docs --entry <module> [--export <name>] [--out docs/events] [--check] [--title <text>] [--fail-on error|warning|none]

Builds the event graph from the module's declarations (its export --export, else \`registry\`, \`bus\` or
default: an event bus or a registry, or a function returning one — nothing is started) and writes README.md (Markdown + Mermaid),
asyncapi.json (AsyncAPI 3.0) and index.html (a clickable page) into --out.

  --check     write nothing; exit 1 when the files in --out differ from what would be generated
  --fail-on   findings that make the command fail (default: error)

A TypeScript entry needs tsx loaded:  NODE_OPTIONS="--import tsx" npx eventbus docs --entry app.ts`;

const FAIL_ON = ['error', 'warning', 'none'] as const;
type FailOn = (typeof FAIL_ON)[number];
const isFailOn = (value: string): value is FailOn => (FAIL_ON as readonly string[]).includes(value);

/** `eventbus docs`: 0 written (or up to date), 1 stale or findings at --fail-on, 2 bad usage. */
async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandLine('docs', DOCS_USAGE, argv, {
        entry: { type: 'string' },
        export: { type: 'string' },
        out: { type: 'string', default: 'docs/events' },
        check: { type: 'boolean', default: false },
        title: { type: 'string' },
        'fail-on': { type: 'string', default: 'error' },
  }, io);
  if ('exit' in parsed) return parsed.exit;
  const { values } = parsed;
  const failOn = values['fail-on'];
  if (!values.entry || !isFailOn(failOn)) {
    io.err(DOCS_USAGE);
    return 2;
  }
  const registry = await registryFromModule(await loadEntry(values.entry, io.cwd), values.title ? { title: values.title } : {}, values.export);
  const generated = generateDocs(registry);
  const { findings } = generated.graph;
  for (const f of findings) io.err(findingLine(f));
  const failing = findings.filter((f) => failOn === 'warning' || (failOn === 'error' && f.severity === 'error'));
  const outDir = resolve(io.cwd ?? process.cwd(), values.out);

  if (values.check) {
    const stale = await staleDocs(outDir, generated);
    for (const s of stale) io.err(`stale: ${s.file} (${s.reason})`);
    if (stale.length > 0) {
      io.err(`The event docs in ${values.out} are out of date: run "eventbus docs --entry ${values.entry} --out ${values.out}" and commit the result.`);
      return 1;
    }
    io.out(`eventbus docs: ${values.out} is up to date (${count(generated.graph.events.length, 'event')}).`);
  } else {
    const written = await writeDocs(outDir, generated);
    io.out(`eventbus docs: wrote ${written.join(', ')} (${count(generated.graph.events.length, 'event')}, ${count(findings.length, 'finding')}).`);
  }
  if (failing.length > 0) {
    io.err(`eventbus docs: ${failing.length} finding(s) at or above "${failOn}".`);
    return 1;
  }
  return 0;
}

export const docsCommand: Command = {
  name: 'docs',
  summary: 'write the event graph of an app as Markdown + Mermaid, AsyncAPI 3.0 and HTML (--check: fail when stale)',
  run,
};
