#!/usr/bin/env node
// The `eventbus` command line. Subcommands arrive with the event-graph docs (issue 4).
const [command] = process.argv.slice(2);
console.error(`eventbus: unknown command "${command ?? ''}"`);
process.exit(2);
