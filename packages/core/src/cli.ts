#!/usr/bin/env node
// The `eventbus` bin: everything is in cli/main.ts, which a test calls without a process.
import { processIo } from './cli/command.js';
import { main } from './cli/main.js';

// Exit explicitly: the entry module a command loaded may have opened connections that keep the process alive.
main(process.argv.slice(2), processIo).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`eventbus: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
