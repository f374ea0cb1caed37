import { errorMessage, redact, TransportError } from '@org/eventbus';

/** The AWS error code of an SDK error (its name), if any. */
export function awsCode(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const e = error as { name?: unknown; Code?: unknown; code?: unknown };
  if (typeof e.Code === 'string') return e.Code;
  if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
  return typeof e.code === 'string' ? e.code : undefined;
}

export function isAbort(error: unknown): boolean {
  const code = awsCode(error);
  return code === 'AbortError' || code === 'ABORT_ERR';
}

/** Refused for lack of a permission: the credentials themselves were accepted. */
export function isAccessDenied(error: unknown): boolean {
  const code = awsCode(error);
  return code === 'AccessDenied' || code === 'AccessDeniedException' || code === 'AuthorizationError';
}

export function isMissingQueue(error: unknown): boolean {
  const code = awsCode(error);
  return code === 'QueueDoesNotExist' || code === 'AWS.SimpleQueueService.NonExistentQueue';
}

/**
 * A TransportError for a failed AWS call: what was being done, the AWS code and message, with any
 * credential-looking text removed (SDK messages can echo request details).
 */
export function awsError(what: string, error: unknown): TransportError {
  const code = awsCode(error);
  const message = redact(`${what} failed${code ? ` (${code})` : ''}: ${errorMessage(error)}`);
  return new TransportError(message, { cause: withoutResponse(error) });
}

/**
 * An SDK error without its `$response`: that holds the raw HTTP exchange (sockets, the signed
 * request with the access key id), which makes any logged cause a page long. Code, fault and
 * request metadata stay.
 */
function withoutResponse(error: unknown): unknown {
  if (!(error instanceof Error) || !('$response' in error)) return error;
  const slim = new Error(redact(error.message));
  Object.defineProperty(slim, 'name', { value: error.name, enumerable: false });
  for (const key of ['$fault', '$metadata', 'Code', 'Type']) if (key in error) Object.assign(slim, { [key]: Reflect.get(error, key) });
  if (error.stack) slim.stack = redact(error.stack);
  return slim;
}

export interface PublishFailure {
  /** The event id of the message that was refused. */
  id: string;
  code: string;
  message: string;
  /** True when the request itself was wrong (retrying it cannot help). */
  senderFault: boolean;
}

/** Some entries of a batch publish were refused; `failures` says which and why. The rest were accepted. */
export class PublishBatchError extends TransportError {
  constructor(
    readonly failures: PublishFailure[],
    readonly total: number,
  ) {
    const sample = failures
      .slice(0, 3)
      .map((f) => `${f.id}: ${f.code} ${f.message}`)
      .join('; ');
    super(redact(`${failures.length} of ${total} message(s) were refused: ${sample}${failures.length > 3 ? '; …' : ''}`));
    Object.defineProperty(this, 'name', { value: 'PublishBatchError' });
  }
}

/** AWS error codes of a request whose credentials were refused (not merely lacking a permission). */
const AUTHENTICATION_CODES = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'InvalidAccessKeyId',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'ExpiredToken',
  'ExpiredTokenException',
  'AuthFailure',
]);

interface MiddlewareClient {
  middlewareStack: {
    add(middleware: <A, R>(next: (args: A) => Promise<R>) => (args: A) => Promise<R>, options: { step: 'initialize'; name: string }): void;
  };
}

/**
 * Make every refused-credentials error of `client` say so first: "authentication failed for access
 * key id AKIA…: …" (awsError adds the code). The key id names the user, as a user name would on
 * other brokers (AWS treats it as an identifier, not a secret); the secret key never appears. The
 * SDK does not retry these, so they fail fast.
 */
export function explainAuthFailures(client: MiddlewareClient, accessKey: () => Promise<string>): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const code = awsCode(error);
        if (code !== undefined && AUTHENTICATION_CODES.has(code) && error instanceof Error) {
          const who = await accessKey().catch(() => 'unknown');
          error.message = `authentication failed for access key id ${who}: ${error.message}`;
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'eventbusAuthenticationFailures' },
  );
}
