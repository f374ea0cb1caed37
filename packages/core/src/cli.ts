#!/usr/bin/env node
// The `eventbus` command line: `eventbus docs --entry <module> --out docs/events [--check]`.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateDocs, staleDocs, writeDocs } from './docs/generate.js';
import { count, findingLine } from './docs/markdown.js';
import { registryFromModule } from './graph/describe-app.js';

const USAGE = `Usage: eventbus docs --entry <module> [--export <name>] [--out docs/events] [--check] [--title <text>] [--fail-on error|warning|none]

Builds the event graph from the module's declarations (its export --export, else \`registry\`, \`bus\` or
default: an event bus or a registry, or a function returning one — nothing is started) and writes README.md (Markdown + Mermaid),
asyncapi.json (AsyncAPI 3.0) and index.html (a clickable page) into --out.

  --check     write nothing; exit 1 when the files in --out differ from what would be generated
  --fail-on   findings that make the command fail (default: error)

A TypeScript entry needs tsx:  npx tsx node_modules/@org/eventbus/src/cli.ts docs --entry app.ts
                          or:  node --import tsx node_modules/.bin/eventbus docs --entry app.ts`;

type FailOn = 'error' | 'warning' | 'none';

const TYPESCRIPT_LOAD_ERRORS = new Set([
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_MODULE_NOT_FOUND',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
]);

async function loadEntry(entry: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(resolve(process.cwd(), entry)).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: string }).code;
    // Node 20 refuses a .ts file outright; Node ≥ 22.18 strips types itself but cannot resolve the
    // `./x.js` specifiers that point at `./x.ts` sources, nor non-erasable syntax: the fix is tsx either way.
    if (code !== undefined && TYPESCRIPT_LOAD_ERRORS.has(code) && /\.[cm]?tsx?$/.test(entry)) {
      const cause = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new Error(`cannot import ${entry}: a TypeScript entry needs tsx (run "node --import tsx …" or "npx tsx …"); Node said: ${cause}`);
    }
    throw error;
  }
}

async function docs(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      entry: { type: 'string' },
      export: { type: 'string' },
      out: { type: 'string', default: 'docs/events' },
      check: { type: 'boolean', default: false },
      title: { type: 'string' },
      'fail-on': { type: 'string', default: 'error' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const failOn = values['fail-on'] as FailOn;
  if (!values.entry || !['error', 'warning', 'none'].includes(failOn)) {
    console.error(USAGE);
    return 2;
  }
  const registry = await registryFromModule(await loadEntry(values.entry), values.title ? { title: values.title } : {}, values.export);
  const generated = generateDocs(registry);
  const { findings } = generated.graph;
  for (const f of findings) console.error(findingLine(f));
  const failing = findings.filter((f) => failOn === 'warning' || (failOn === 'error' && f.severity === 'error'));

  if (values.check) {
    const stale = await staleDocs(values.out, generated);
    for (const s of stale) console.error(`stale: ${s.file} (${s.reason})`);
    if (stale.length > 0) {
      console.error(`The event docs in ${values.out} are out of date: run "eventbus docs --entry ${values.entry} --out ${values.out}" and commit the result.`);
      return 1;
    }
    console.log(`eventbus docs: ${values.out} is up to date (${count(generated.graph.events.length, 'event')}).`);
  } else {
    const written = await writeDocs(values.out, generated);
    console.log(`eventbus docs: wrote ${written.join(', ')} (${count(generated.graph.events.length, 'event')}, ${count(findings.length, 'finding')}).`);
  }
  if (failing.length > 0) {
    console.error(`eventbus docs: ${failing.length} finding(s) at or above "${failOn}".`);
    return 1;
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'docs') return docs(rest);
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  console.error(`eventbus: unknown command "${command}"\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  // Exit explicitly: the entry module may have opened connections that would keep the process alive.
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`eventbus: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
