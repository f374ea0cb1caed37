export { SQS_MAX_MESSAGE_BYTES, SqsAttributes } from './attributes.js';
export { type PublishFailure, PublishBatchError } from './errors.js';
export { resourceName } from './names.js';
export type { SqsCredentials, SqsTransportOptions } from './options.js';
export type { RedriveOptions } from './redrive.js';
export { type CommandIo, REDRIVE_USAGE, runRedriveCommand } from './redrive-command.js';
export { type SqsSubscribeOptions, SqsTransport } from './transport.js';
export { fromUrl, parseSqsUrl } from './url.js';

import type { SqsTransportOptions } from './options.js';
import { SqsTransport } from './transport.js';

/** Create an SQS/SNS transport (same as `new SqsTransport(options)`). */
export function createSqsTransport(options: SqsTransportOptions = {}): SqsTransport {
  return new SqsTransport(options);
}
