import { type ParseArgsConfig, parseArgs } from 'node:util';
import { errorMessage } from '../errors.js';
import type { Transport } from '../transport.js';

/** Where a command reads its environment and writes its lines (the process's, or a test's). */
export interface CommandIo {
  env: Readonly<Record<string, string | undefined>>;
  out(line: string): void;
  err(line: string): void;
  cwd?: string;
  /** How a URL becomes a transport (default `createTransport`). */
  transportFor?: (url: string) => Promise<Transport>;
}

/** The process's own environment and streams. */
export const processIo: CommandIo = {
  env: process.env,
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/**
 * One `eventbus <command>`: parses its own arguments and answers with an exit code — 0 done, 1 the
 * work failed (a broker refused), 2 bad usage. No side effects at import, so a test calls `run`.
 */
export interface Command {
  /** The word after `eventbus` (or after the adapter's name for an adapter's command). */
  readonly name: string;
  /** Other words that run it (`dlq` for `dead-letters`). */
  readonly aliases?: readonly string[];
  /** One line for `eventbus help`. */
  readonly summary: string;
  run(argv: readonly string[], io: CommandIo): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP = { help: { type: 'boolean', short: 'h', default: false } } as const;

/**
 * The argument parsing every `eventbus <command>` shares: strict options plus `--help`/`-h`. A
 * mistake writes `eventbus <name>: <what> ` and the usage to stderr and answers 2; `--help` writes
 * the usage to stdout and answers 0; otherwise the parsed values.
 */
export function parseCommandLine<const O extends Options>(
  name: string,
  usage: string,
  argv: readonly string[],
  options: O,
  io: CommandIo,
): { values: ReturnType<typeof parseArgs<{ args: string[]; options: O & typeof HELP; strict: true }>>['values'] } | { exit: number } {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: O & typeof HELP; strict: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...options, ...HELP }, strict: true });
  } catch (error) {
    io.err(`eventbus ${name}: ${errorMessage(error)}\n\n${usage}`);
    return { exit: 2 };
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.out(usage);
    return { exit: 0 };
  }
  return { values: parsed.values };
}
