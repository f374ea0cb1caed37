import { SqsTransport } from '../src/index.js';

/** Environment the parent test sets so the SIGKILL child reaches the same emulator and names. */
export const CHILD_ENV = {
  endpoint: 'EVENTBUS_SQS_CHILD_ENDPOINT',
  prefix: 'EVENTBUS_SQS_CHILD_PREFIX',
  visibility: 'EVENTBUS_SQS_CHILD_VISIBILITY',
} as const;

/** Builds the child process's transport (the conformance SIGKILL scenario imports this). */
export function createConformanceTransport(): SqsTransport {
  const endpoint = process.env[CHILD_ENV.endpoint];
  return new SqsTransport({
    ...(endpoint ? { endpoint } : {}),
    prefix: process.env[CHILD_ENV.prefix] ?? 'eventbus-test-',
    visibilityTimeoutSeconds: Number(process.env[CHILD_ENV.visibility] ?? 3),
    waitTimeSeconds: 2,
  });
}
