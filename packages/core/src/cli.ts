#!/usr/bin/env node
// The `eventbus` command line: `eventbus docs …` (event-graph docs) and `eventbus provision …` (declare groups).
import { parseArgs } from 'node:util';
import { loadEntry } from './cli-entry.js';
import { generateDocs, staleDocs, writeDocs } from './docs/generate.js';
import { count, findingLine } from './docs/markdown.js';
import { registryFromModule } from './graph/describe-app.js';
import { run as provision } from './provision-command.js';

const USAGE = `Usage: eventbus docs --entry <module> [--export <name>] [--out docs/events] [--check] [--title <text>] [--fail-on error|warning|none]
       eventbus provision --entry <module> [--export <name>] [--url <broker url>]   (see eventbus provision --help)

Builds the event graph from the module's declarations (its export --export, else \`registry\`, \`bus\` or
default: an event bus or a registry, or a function returning one — nothing is started) and writes README.md (Markdown + Mermaid),
asyncapi.json (AsyncAPI 3.0) and index.html (a clickable page) into --out.

  --check     write nothing; exit 1 when the files in --out differ from what would be generated
  --fail-on   findings that make the command fail (default: error)

A TypeScript entry needs tsx loaded:  NODE_OPTIONS="--import tsx" npx eventbus docs --entry app.ts`;

type FailOn = 'error' | 'warning' | 'none';

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
  if (command === 'provision') return provision(rest);
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
