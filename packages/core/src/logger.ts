import { redact, redactValue } from './redact.js';

/** The shape of pino's logger methods, so a pino (or console-like) logger can be passed as is. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: object): Logger;
}

const noop = () => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * Wraps a user logger so that every line passes through `redact` — a broker URL with a password
 * can never reach the log, whoever wrote the line — and carries fixed bindings (group, correlation id).
 */
export function safeLogger(inner: Logger, bindings: object = {}): Logger {
  const hasBindings = Object.keys(bindings).length > 0;
  const line =
    (level: keyof Omit<Logger, 'child'>) =>
    (obj: object, msg?: string): void => {
      const merged = hasBindings ? { ...bindings, ...obj } : obj;
      inner[level](redactValue(merged) as object, msg === undefined ? undefined : redact(msg));
    };
  return {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    child: (more: object) => safeLogger(inner, { ...bindings, ...more }),
  };
}

type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

export interface ConsoleLoggerOptions {
  /** Where lines go (default: process.stderr). */
  write?: (line: string) => void;
  /** The clock in each line (tests pass a fixed one). */
  now?: () => Date;
}

/**
 * A logger that prints one line per record at or above `level`, redacted:
 * `2026-01-01T00:00:00.000Z ERROR dead-lettering event group=billing type=order.placed eventId=… reason="…"`.
 * An error prints as `err="TransportError: … (cause: …)"` on the same line; its stack follows only
 * at `debug`. The bus's default logger is `consoleLogger('warn')`: dead-letters, given-up retries and
 * connection loss speak up, info and debug stay silent. Adapters may default to it too.
 */
export function consoleLogger(level: Level = 'info', options: ConsoleLoggerOptions = {}): Logger {
  const min = LEVELS.indexOf(level);
  if (min < 0) throw new TypeError(`consoleLogger: level must be one of ${LEVELS.join(', ')} (got ${String(level)})`);
  const write = options.write ?? ((text: string) => process.stderr.write(`${text}\n`));
  const now = options.now ?? (() => new Date());
  const withStacks = level === 'debug';
  const make =
    (bindings: object) =>
    (lvl: Level) =>
    (obj: object, msg?: string): void => {
      if (LEVELS.indexOf(lvl) < min) return;
      const record = redactValue({ ...bindings, ...obj }) as Record<string, unknown>;
      write(formatLine(now(), lvl, msg === undefined ? undefined : redact(msg), record, withStacks));
    };
  const build = (bindings: object): Logger => {
    const line = make(bindings);
    return {
      debug: line('debug'),
      info: line('info'),
      warn: line('warn'),
      error: line('error'),
      child: (more: object) => build({ ...bindings, ...more }),
    };
  };
  return build({});
}

function formatLine(at: Date, level: Level, msg: string | undefined, record: Record<string, unknown>, withStacks: boolean): string {
  const parts = [at.toISOString(), level.toUpperCase()];
  if (msg !== undefined && msg !== '') parts.push(oneLine(msg));
  const stacks: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    if (value instanceof Error) {
      parts.push(`${key}=${quoted(errorSummary(value))}`);
      if (withStacks && value.stack) stacks.push(value.stack);
      continue;
    }
    parts.push(`${key}=${quoted(typeof value === 'string' ? value : stringify(value))}`);
  }
  return stacks.length > 0 ? `${parts.join(' ')}\n${stacks.join('\n')}` : parts.join(' ');
}

/** `Name: message (cause: Name: message)`, following the cause chain a few levels. */
function errorSummary(error: Error): string {
  let text = `${error.name}: ${error.message}`;
  let cause: unknown = (error as { cause?: unknown }).cause;
  for (let depth = 0; cause !== undefined && depth < 3; depth++) {
    text += ` (cause: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)})`;
    cause = cause instanceof Error ? (cause as { cause?: unknown }).cause : undefined;
  }
  return text;
}

function stringify(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (v instanceof Error ? errorSummary(v) : typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Bare when it is one plain word, JSON-quoted otherwise: a value never breaks the line or the key=value form. */
function quoted(text: string): string {
  return /^[^\s"=\\]+$/.test(text) ? text : JSON.stringify(text);
}

function oneLine(text: string): string {
  return /[\r\n]/.test(text) ? JSON.stringify(text) : text;
}
