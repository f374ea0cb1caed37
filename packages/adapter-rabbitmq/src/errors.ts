import { errorMessage, redact, TransportError } from '@org/eventbus';
import type { ResolvedOptions } from './options.js';

/** amqplib's error as core's TransportError, saying what failed; the URL's password never shows. */
export function transportError(what: string, error: unknown): TransportError {
  return new TransportError(redact(`${what}: ${errorMessage(error)}`), { cause: error });
}

/** The broker refused the login or the vhost: the same URL will not do better on a retry. */
export class LoginRefusedError extends TransportError {}

/**
 * The broker refused this login or vhost: retrying with the same URL cannot help, so callers fail at
 * once (undefined: a failure that may pass, such as a refused or lost TCP connection).
 */
export function refusal(error: unknown, options: Pick<ResolvedOptions, 'user' | 'vhost' | 'safeUrl'>): LoginRefusedError | undefined {
  const message = errorMessage(error);
  if (/ACCESS.REFUSED/.test(message)) {
    return new LoginRefusedError(
      `authentication failed for user "${options.user}" at ${options.safeUrl}: RabbitMQ refused the login (403 ACCESS_REFUSED); check the user and password in the URL`,
      { cause: error },
    );
  }
  // amqplib's words for a connection.close in answer to connection.open: the vhost is missing or not the user's.
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(message)) {
    return new LoginRefusedError(
      `RabbitMQ refused to open virtual host "${options.vhost}" for user "${options.user}" at ${options.safeUrl}: it does not exist or the user has no permission on it`,
      { cause: error },
    );
  }
  return undefined;
}
