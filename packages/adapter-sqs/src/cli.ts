#!/usr/bin/env node
// The `eventbus-sqs` command: `eventbus-sqs redrive --group <group> [--url sqs://…] [--max n]`.
import { runRedriveCommand } from './redrive-command.js';

void runRedriveCommand(process.argv.slice(2), {
  env: process.env,
  out: (line) => console.log(line),
  err: (line) => console.error(line),
}).then((code) => {
  process.exitCode = code;
});
