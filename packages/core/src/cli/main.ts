import { errorMessage } from '../errors.js';
import { commandsOf, type EventbusPackage, importPackage, installedPackages } from '../installed-packages.js';
import { redact } from '../redact.js';
import { type Command, type CommandIo, processIo } from './command.js';
import { deadLettersCommand } from './dead-letters-command.js';
import { docsCommand } from './docs-command.js';
import { provisionCommand } from './provision-command.js';
import { statusCommand } from './status-command.js';

/** What core itself answers to; an installed package's commands run under its `eventbus.name`. */
export const CORE_COMMANDS: readonly Command[] = [docsCommand, provisionCommand, deadLettersCommand, statusCommand];

const HELP_WORDS = new Set(['help', '--help', '-h']);

/**
 * `eventbus <command> …` or `eventbus <package> <command> …` (a command of an installed package whose
 * package.json declares `"eventbus": { "name": <package> }`). Resolves with the exit code — 0 done,
 * 1 the work failed, 2 bad usage — and writes only through `io`, so a test calls it as the bin does.
 */
export async function main(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const [word, ...rest] = argv;
  try {
    if (word === undefined) {
      io.err(await helpText(io));
      return 2;
    }
    if (HELP_WORDS.has(word)) {
      io.out(await helpText(io));
      return 0;
    }
    const core = CORE_COMMANDS.find((c) => c.name === word || c.aliases?.includes(word));
    if (core) return await core.run(rest, io);
    const pkg = (await installedPackages(io.cwd)).find((p) => p.name === word);
    if (pkg) return await runPackageCommand(pkg, rest, io);
    io.err(`eventbus: unknown command "${word}" (eventbus help lists the commands)`);
    return 2;
  } catch (error) {
    // The entry module failed to import, an adapter is not installed…: one line, no stack trace.
    io.err(`eventbus: ${redact(errorMessage(error))}`);
    return 2;
  }
}

async function runPackageCommand(pkg: EventbusPackage, argv: readonly string[], io: CommandIo): Promise<number> {
  const [word, ...rest] = argv;
  const commands = commandsOf(await importPackage(pkg.packageName, pkg.dir), pkg.packageName);
  const command = commands.find((c) => c.name === word);
  if (command) return command.run(rest, io);
  const list = commandLines(pkg.name, commands);
  if (word !== undefined && HELP_WORDS.has(word)) {
    io.out(list.join('\n'));
    return 0;
  }
  const known = commands.length > 0 ? commands.map((c) => c.name).join(', ') : 'none';
  io.err(
    word === undefined
      ? `eventbus ${pkg.name}: which command? its commands: ${known} (eventbus ${pkg.name} help)`
      : `eventbus ${pkg.name}: unknown command "${word}"; its commands: ${known}`,
  );
  return 2;
}

function commandLines(prefix: string, commands: readonly Command[]): string[] {
  const names = commands.map((c) => `${prefix} ${c.name}`.trim());
  const width = Math.max(0, ...names.map((n) => n.length));
  return commands.map((c, i) => `  eventbus ${(names[i] ?? '').padEnd(width)}  ${c.summary}`);
}

/** Core's commands, then every installed package's (a package that fails to load is named, not fatal). */
async function helpText(io: CommandIo): Promise<string> {
  const lines = ['Usage: eventbus <command> [options]   (eventbus <command> --help: its options)', '', ...commandLines('', CORE_COMMANDS)];
  for (const pkg of await installedPackages(io.cwd)) {
    try {
      const commands = commandsOf(await importPackage(pkg.packageName, pkg.dir), pkg.packageName);
      if (commands.length > 0) lines.push('', `${pkg.packageName}:`, ...commandLines(pkg.name, commands));
    } catch (error) {
      lines.push('', `${pkg.packageName}: its commands could not be loaded (${redact(errorMessage(error))})`);
    }
  }
  return lines.join('\n');
}
