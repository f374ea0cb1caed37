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

/** An Error whose message and stack carry no credentials, keeping its class and cause chain readable. */
export function redactError<E>(error: E): E {
  if (error instanceof Error) {
    error.message = redact(error.message);
    if (error.stack) error.stack = redact(error.stack);
  }
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
