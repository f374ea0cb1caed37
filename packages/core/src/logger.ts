import { redact, redactError } from './redact.js';

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

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (value instanceof Error) return redactError(value);
  if (depth > 3 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1);
  return out;
}

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
      inner[level](scrub(merged) as object, msg === undefined ? undefined : redact(msg));
    };
  return {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    child: (more: object) => safeLogger(inner, { ...bindings, ...more }),
  };
}

/** A logger that prints JSON lines to the console; handy for examples. */
export function consoleLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'info'): Logger {
  const order = ['debug', 'info', 'warn', 'error'];
  const min = order.indexOf(level);
  const line = (lvl: string) => (obj: object, msg?: string) => {
    if (order.indexOf(lvl) < min) return;
    const text = JSON.stringify({ level: lvl, time: new Date().toISOString(), msg, ...obj }, (_k, v: unknown) =>
      v instanceof Error ? { name: v.name, message: v.message } : v,
    );
    (lvl === 'error' || lvl === 'warn' ? console.error : console.log)(text);
  };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}
