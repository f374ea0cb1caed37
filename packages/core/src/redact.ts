const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*)(:[^/@\s]*)?@/gi;
const SECRET_PARAMS =
  /((?:^|[?&;\s])(?:password|passwd|pwd|secret|token|access_?key|access_?key_?id|secret_?access_?key|session_?token|x-amz-security-token|x-amz-credential|x-amz-signature)=)[^&\s;]*/gi;
const AWS_SECRET_LIKE = /\b(aws_?secret_?access_?key|secretAccessKey|sessionToken)(["']?\s*[:=]\s*["']?)[^"'\s,}&;]+/gi;

/**
 * Remove credentials from any text that may end up in a log or an error: user info in URLs
 * (`amqp://user:pass@host` → `amqp://user:***@host`), secret query parameters and AWS secret fields.
 */
export function redact(text: string): string {
  return text
    .replace(URL_CREDENTIALS, (_m, scheme: string, user: string, pass: string | undefined) =>
      pass ? `${scheme}${user}:***@` : `${scheme}***@`,
    )
    .replace(SECRET_PARAMS, '$1***')
    .replace(AWS_SECRET_LIKE, '$1$2***');
}

/** Property names whose value is a secret whatever it looks like: replaced whole, never inspected. */
const SECRET_KEY = /^(?:password|passwd|pwd|pass|secret|token|auth_?token|api_?key|access_?key(?:_?id)?|secret_?access_?key|session_?token|credentials?|sasl|authorization)$/i;
/** Commands that carry a credential in their arguments (ioredis puts `{ name: 'auth', args: [pw] }` on its errors). */
const SECRET_COMMAND = /^(?:auth|hello|migrate|config)$/i;
const MAX_DEPTH = 8;

/**
 * A copy of `value` that carries no credentials: strings pass through `redact`, properties with a
 * secret's name (password, token, secretAccessKey, …) become `***`, the arguments of an AUTH-like
 * command become `***`, recursively through arrays and plain objects. Errors are redacted in place
 * (`redactError`), keeping their class. Other objects (class instances, buffers) are kept as they are:
 * copying them would lose their type, and what they print is theirs to hide (`hideSecrets`).
 */
export function redactValue(value: unknown): unknown {
  return scrubValue(value, new WeakMap(), 0);
}

function scrubValue(value: unknown, seen: WeakMap<object, unknown>, depth: number): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return seen.get(value);
  if (value instanceof Error) return scrubError(value, seen, depth);
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(scrubValue(item, seen, depth + 1));
    return copy;
  }
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto !== Object.prototype && proto !== null) return value;
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  const record = value as Record<string, unknown>;
  const secretArgs = typeof record.name === 'string' && SECRET_COMMAND.test(record.name);
  for (const [key, item] of Object.entries(record)) {
    copy[key] = secretKeyValue(key, item, secretArgs) ?? scrubValue(item, seen, depth + 1);
  }
  return copy;
}

/** `***` in place of a secret property's value (an AUTH command's args keep their count). */
function secretKeyValue(key: string, value: unknown, secretArgs: boolean): unknown {
  if (value === undefined || value === null) return undefined;
  if (secretArgs && key === 'args') return Array.isArray(value) ? value.map(() => '***') : '***';
  if (SECRET_KEY.test(key)) return '***';
  return undefined;
}

function scrubError(error: Error, seen: WeakMap<object, unknown>, depth: number): Error {
  seen.set(error, error);
  const record = error as unknown as Record<string, unknown>;
  const secretArgs = typeof record.name === 'string' && SECRET_COMMAND.test(record.name);
  for (const key of Object.getOwnPropertyNames(error)) {
    const descriptor = Object.getOwnPropertyDescriptor(error, key);
    if (!descriptor || !('value' in descriptor)) continue;
    const original: unknown = descriptor.value;
    const clean = secretKeyValue(key, original, secretArgs) ?? scrubValue(original, seen, depth + 1);
    if (clean === original) continue;
    try {
      Object.defineProperty(error, key, { ...descriptor, value: clean, writable: true });
    } catch {
      // A frozen error cannot be cleaned in place; its own properties then stay unreadable to us.
    }
  }
  return error;
}

/**
 * An Error that carries no credentials, in place, keeping its class: its message and stack, and every
 * own property — `cause`, nested errors (`AggregateError.errors`), objects and arrays such as
 * ioredis's `command: { name: 'auth', args: [password] }` — recursively.
 */
export function redactError<E>(error: E): E {
  if (error instanceof Error) scrubError(error, new WeakMap(), 0);
  return error;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

type InspectFn = (value: unknown, options: object) => string;

/**
 * Make `target` (a transport, a client wrapper) show only `summary()` in `util.inspect`, `console.log`
 * and `JSON.stringify`: its own fields hold connection options and client objects that carry
 * credentials. Every string in the summary is passed through `redact` as well.
 */
export function hideSecrets(target: object, summary: () => Record<string, unknown>): void {
  const safe = () => {
    const view: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(summary())) view[key] = typeof value === 'string' ? redact(value) : value;
    return view;
  };
  const label = target.constructor?.name ?? 'Object';
  Object.defineProperty(target, INSPECT, {
    value: (_depth: number, options: object, inspect: InspectFn) => `${label} ${inspect(safe(), options)}`,
    enumerable: false,
  });
  Object.defineProperty(target, 'toJSON', { value: safe, enumerable: false });
}
