import { redact, TransportError } from '@org/eventbus';
import type { ResolvedKafkaOptions } from './options.js';

/** What the client's nested errors (MultipleErrors → NetworkError → cause) say went wrong first. */
interface ClientError {
  code?: unknown;
  apiId?: unknown;
  message?: unknown;
  errors?: unknown[];
  cause?: unknown;
}

const AUTH_CODES = new Set(['PLT_KFK_AUTHENTICATION']);
const AUTH_API_IDS = new Set(['SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE']);

/** The first authentication error anywhere in a client error's tree, or undefined. */
export function authenticationError(error: unknown, depth = 0): Error | undefined {
  if (!error || typeof error !== 'object' || depth > 8) return undefined;
  const e = error as ClientError;
  if (AUTH_CODES.has(String(e.code)) || AUTH_API_IDS.has(String(e.apiId))) return error as Error;
  for (const inner of Array.isArray(e.errors) ? e.errors : []) {
    const found = authenticationError(inner, depth + 1);
    if (found) return found;
  }
  return authenticationError(e.cause, depth + 1);
}

/**
 * The deepest message of a client error: "metadata failed 6 times" says nothing, the socket error
 * or broker error code under it does.
 */
export function rootMessage(error: unknown, depth = 0): string {
  if (!error || typeof error !== 'object' || depth > 8) return String(error);
  const e = error as ClientError;
  const inner = Array.isArray(e.errors) && e.errors.length > 0 ? e.errors[e.errors.length - 1] : e.cause;
  if (inner && typeof inner === 'object') return rootMessage(inner, depth + 1);
  return typeof e.message === 'string' ? e.message : String(error);
}

/** True when an error (or any error it wraps) says the topic exists already. */
export function topicAlreadyExists(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const e = error as ClientError;
  if (e.apiId === 'TOPIC_ALREADY_EXISTS' || /already exists/i.test(String(e.message))) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => topicAlreadyExists(inner, depth + 1))) return true;
  return topicAlreadyExists(e.cause, depth + 1);
}

/**
 * Why connecting failed, in core's terms: refused credentials are named as such (with the user and
 * mechanism, never the password), anything else is an unreachable broker with its deepest cause.
 */
export function connectFailure(error: unknown, { brokers, sasl }: Pick<ResolvedKafkaOptions, 'brokers' | 'sasl'>, attempts?: number): TransportError {
  const auth = authenticationError(error);
  const text = auth
    ? `Kafka authentication failed for user "${sasl?.username ?? '(none)'}" at ${brokers.join(',')}` +
      `${sasl ? ` (SASL ${sasl.mechanism})` : ''}: ${rootMessage(auth)} — check the credentials and the mechanism (?mechanism=)`
    : `cannot reach Kafka at ${brokers.join(',')}${attempts ? ` after ${attempts} attempts` : ''}: ${rootMessage(error)}`;
  return new TransportError(redact(text));
}
